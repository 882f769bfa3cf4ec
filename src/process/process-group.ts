// Signals and ends whole process groups. Every app (and health check) runs as the leader of its own
// group, so signalling the group reaches a shell's children and anything else the app started.
import { sleep, type Clock } from '../core/clock.js';
import { groupMembers } from './proc-stat.js';

const POLL_MS = 50;
/** After SIGKILL the kernel needs a moment; beyond this something is stuck in the kernel (state D). */
const KILL_WAIT_MS = 5_000;

/** Sends `signal` to every process of group `pgid`. False when the group no longer exists. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

export type TerminateOutcome = 'terminated' | 'killed' | 'gone';

export interface TerminateOptions {
  readonly pgid: number;
  /** Time between SIGTERM and SIGKILL. */
  readonly graceMs: number;
  readonly clock: Clock;
  /**
   * Whether the group leader is gone as far as the caller knows (e.g. its exit event was seen); the
   * group counts as ended only when this holds too. Default: the group having no live members suffices.
   */
  readonly leaderGone?: () => boolean;
}

/**
 * SIGTERM to the group, SIGKILL after the grace period if any member is still alive. Resolves once the
 * group has no live members: 'gone' if it had none to begin with, 'terminated' if SIGTERM sufficed.
 */
export async function terminateGroup(options: TerminateOptions): Promise<TerminateOutcome> {
  const { pgid, graceMs, clock } = options;
  const ended = async () => (options.leaderGone?.() ?? true) && (await groupMembers(pgid)).length === 0;
  if (!signalGroup(pgid, 'SIGTERM') && (await ended())) return 'gone';
  const deadline = clock.now() + graceMs;
  while (clock.now() < deadline) {
    if (await ended()) return 'terminated';
    await sleep(Math.min(POLL_MS, Math.max(0, deadline - clock.now())), undefined, clock);
  }
  if (await ended()) return 'terminated';
  signalGroup(pgid, 'SIGKILL');
  const killDeadline = clock.now() + KILL_WAIT_MS;
  while (!(await ended()) && clock.now() < killDeadline) await sleep(POLL_MS, undefined, clock);
  return 'killed';
}
