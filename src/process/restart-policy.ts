// What happens after an app's process exits on its own: the exit action chosen by the spec (per exit
// code), and the crash-loop backoff for restarts. Pure functions, so the policy is tested without processes.
import type { AppSpec, ExitAction } from '../../api/app.js';
import { isPeriodic } from '../../api/app.js';
import { exponentialBackoff, type Backoff } from '../core/backoff.js';

/** A run at least this long is not part of a crash loop: it resets the backoff (and lets keepalive skip it). */
export const STABLE_RUN_MS = 60_000;

/** 1 s doubling to 300 s. */
export function defaultRestartBackoff(): Backoff {
  return exponentialBackoff({ initialMs: 1_000, maxMs: 300_000 });
}

/** `restart` for long-running apps, `standby` (wait for the next scheduled start) for periodic ones. */
export function defaultExitAction(spec: AppSpec): ExitAction {
  return isPeriodic(spec) ? 'standby' : 'restart';
}

/** The action for an exit: `behavior.control[code]`, else `behavior.exit`, else the default. */
export function exitActionFor(spec: AppSpec, exitCode: number | undefined): ExitAction {
  const override = exitCode === undefined ? undefined : spec.behavior?.control?.[String(exitCode)];
  return override ?? spec.behavior?.exit ?? defaultExitAction(spec);
}

export type ExitDecision =
  /** Start again after `delayMs`; `failures` is the new count of consecutive short runs. */
  | { readonly kind: 'restart'; readonly delayMs: number; readonly failures: number }
  /** Stay down until enabled or restarted. */
  | { readonly kind: 'standby' }
  /** Periodic app: stay down until its next scheduled start. */
  | { readonly kind: 'next-schedule' }
  /** The app is finished; its owner deletes it. */
  | { readonly kind: 'remove' };

export interface ExitFacts {
  readonly action: ExitAction;
  /** How long the run lasted. */
  readonly runMs: number;
  /** Consecutive short runs before this one. */
  readonly failures: number;
  readonly periodic: boolean;
  readonly backoff: Backoff;
}

export function decideAfterExit(facts: ExitFacts): ExitDecision {
  const stable = facts.runMs >= STABLE_RUN_MS;
  switch (facts.action) {
    case 'remove':
      return { kind: 'remove' };
    case 'standby':
      return facts.periodic ? { kind: 'next-schedule' } : { kind: 'standby' };
    case 'keepalive':
      if (stable) return { kind: 'restart', delayMs: 0, failures: 0 };
      return restartWithBackoff(facts.failures + 1, facts.backoff);
    case 'restart':
      return restartWithBackoff(stable ? 1 : facts.failures + 1, facts.backoff);
  }
}

function restartWithBackoff(failures: number, backoff: Backoff): ExitDecision {
  return { kind: 'restart', delayMs: backoff(failures), failures };
}
