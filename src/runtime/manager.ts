// The manager owns lifecycles, like controller-runtime's manager: runnables (HTTP server, caches) start
// first and stop last; controllers run in between, leader-only ones only while leadership is held. At
// shutdown in-flight reconciles finish (bounded), then release hooks give up what we hold (the session).
import { distinctUntilChanged, type Observable, type Subscription } from 'rxjs';
import { systemClock, type Clock } from '../core/clock.js';
import type { Controller } from './controller.js';
import type { Logger } from './logger.js';
import type { RuntimeMetrics } from './runtime-metrics.js';

export interface Runnable {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface ManagerOptions {
  readonly logger: Logger;
  readonly metrics: RuntimeMetrics;
  /** How long controllers may finish in-flight reconciles before they are aborted; default 15 s. */
  readonly shutdownTimeoutMs?: number;
  /** Default systemClock; tests pass a virtual one. */
  readonly clock?: Clock;
}

export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 15_000;
/**
 * After its reconciles are aborted a controller should be idle at once; one whose reconciler ignores
 * the signal is given up on after this much longer, so shutdown (and the session release) still happens.
 */
const ABORT_GRACE_MS = 5_000;
const SHUTDOWN_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];

interface ManagedController {
  readonly controller: Controller<string>;
  readonly leaderOnly: boolean;
}

type ManagerPhase = 'new' | 'starting' | 'started' | 'stopping' | 'stopped';

export class Manager {
  private readonly log: Logger;
  private readonly metrics: RuntimeMetrics;
  private readonly shutdownTimeoutMs: number;
  private readonly clock: Clock;
  private readonly runnables: Runnable[] = [];
  private readonly startedRunnables: Runnable[] = [];
  private readonly controllers: ManagedController[] = [];
  private readonly releaseHooks: Array<() => Promise<void>> = [];
  private readonly stoppedListeners: Array<() => void> = [];
  private leadership: Observable<boolean> | undefined;
  private leadershipSubscription: Subscription | undefined;
  /** The latest word from the leadership stream, and whether leader-only controllers run to match it. */
  private wantLeader = false;
  private leaderControllersRunning = false;
  private converging = false;
  /** The latest run of convergeLeadership(); stop() waits for it. */
  private leadershipTransition: Promise<void> = Promise.resolve();
  private phase: ManagerPhase = 'new';
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;

  constructor(options: ManagerOptions) {
    const shutdownTimeoutMs = options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
    if (!(shutdownTimeoutMs >= 0)) {
      throw new RangeError(`manager: shutdownTimeoutMs must be >= 0, got ${shutdownTimeoutMs}`);
    }
    this.log = options.logger.child({ component: 'manager' });
    this.metrics = options.metrics;
    this.shutdownTimeoutMs = shutdownTimeoutMs;
    this.clock = options.clock ?? systemClock;
  }

  get started(): boolean {
    return this.phase === 'started';
  }

  /** Started first, in the order added; stopped last, in reverse order. */
  addRunnable(runnable: Runnable): this {
    this.assertNotStarted('addRunnable');
    this.runnables.push(runnable);
    return this;
  }

  addController(controller: Controller<string>, options: { readonly leaderOnly?: boolean } = {}): this {
    this.assertNotStarted('addController');
    if (this.controllers.some((managed) => managed.controller.name === controller.name)) {
      throw new Error(
        `manager: a controller named ${controller.name} is already added; names label metrics and must be unique`,
      );
    }
    this.controllers.push({ controller, leaderOnly: options.leaderOnly ?? false });
    return this;
  }

  /** Leader-only controllers start when it says true and stop the moment it says false; sets metrics.leader. */
  setLeadership(leader: Observable<boolean>): this {
    this.assertNotStarted('setLeadership');
    this.leadership = leader;
    return this;
  }

  /** Runs at shutdown after controllers stopped, before runnables stop, in the order added. */
  onRelease(hook: () => Promise<void>): this {
    this.releaseHooks.push(hook);
    return this;
  }

  /**
   * Starts runnables in order, then controllers that are not leader-only, then follows leadership.
   * If a runnable fails to start, whatever started is stopped again and the error is rethrown.
   */
  async start(): Promise<void> {
    if (this.phase !== 'new') throw new Error(`manager: start() may be called once; it is ${this.phase}`);
    this.phase = 'starting';
    this.starting = this.startAll();
    try {
      await this.starting;
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  /**
   * Stops intake and controllers (in-flight reconciles get shutdownTimeoutMs), runs release hooks, then
   * stops runnables in reverse order. Errors are logged and the rest still runs. Idempotent; never rejects.
   */
  stop(): Promise<void> {
    this.stopping ??= this.stopAll();
    return this.stopping;
  }

  /**
   * Installs SIGTERM/SIGINT handlers that call stop(); resolves once the manager has stopped, however
   * that came about. The handlers go at the first signal, so a second one gets Node's default (exit now).
   */
  stopOnSignals(): Promise<void> {
    return new Promise((resolve) => {
      const removeHandlers = () => {
        for (const signal of SHUTDOWN_SIGNALS) process.off(signal, onSignal);
      };
      const onSignal = (signal: NodeJS.Signals) => {
        removeHandlers();
        this.log.info('shutting down on signal; send it again to exit at once', { signal });
        void this.stop();
      };
      for (const signal of SHUTDOWN_SIGNALS) process.on(signal, onSignal);
      const onStopped = () => {
        removeHandlers();
        resolve();
      };
      if (this.phase === 'stopped') onStopped();
      else this.stoppedListeners.push(onStopped);
    });
  }

  private async startAll(): Promise<void> {
    for (const runnable of this.runnables) {
      if (this.phase !== 'starting') return; // stop() was called meanwhile
      try {
        await runnable.start();
      } catch (error) {
        throw new Error(`manager: runnable ${runnable.name} failed to start: ${errorMessage(error)}`, {
          cause: error,
        });
      }
      this.startedRunnables.push(runnable);
      this.log.debug('runnable started', { runnable: runnable.name });
    }
    if (this.phase !== 'starting') return;
    this.phase = 'started';
    for (const { controller, leaderOnly } of this.controllers) if (!leaderOnly) controller.start();
    const leaderOnly = this.controllers.filter((managed) => managed.leaderOnly);
    if (this.leadership !== undefined) {
      this.leadershipSubscription = this.leadership.pipe(distinctUntilChanged()).subscribe({
        next: (isLeader) => this.onLeadership(isLeader),
        error: (error: unknown) => {
          this.log.error('leadership stream failed; acting as a follower', { error: errorMessage(error) });
          this.onLeadership(false);
        },
        // A finished stream's last word stands, so `of(true)` means "always leader" (e.g. a lone agent).
        complete: () => this.log.info('leadership stream completed; keeping its last value'),
      });
    } else if (leaderOnly.length > 0) {
      this.log.warn('leader-only controllers were added without setLeadership(); they will never run', {
        controllers: leaderOnly.map((managed) => managed.controller.name),
      });
    }
    this.log.info('manager started', {
      runnables: this.runnables.length,
      controllers: this.controllers.length,
    });
  }

  private onLeadership(isLeader: boolean): void {
    this.metrics.leader.set(isLeader ? 1 : 0);
    if (isLeader !== this.wantLeader) {
      this.log.info(isLeader ? 'leadership acquired' : 'leadership lost');
    }
    this.wantLeader = isLeader;
    this.convergeLeadership();
  }

  /**
   * Brings leader-only controllers in line with the latest leadership, one transition at a time, so a
   * controller never starts again while its previous run is still stopping. A stop begins synchronously,
   * so losing leadership stops intake the moment it is reported.
   */
  private convergeLeadership(): void {
    if (this.converging) return; // the running loop reads wantLeader again before it ends
    this.converging = true;
    this.leadershipTransition = (async () => {
      try {
        while (this.phase === 'started' && this.leaderControllersRunning !== this.wantLeader) {
          const leaderOnly = this.controllers.filter((managed) => managed.leaderOnly);
          if (this.wantLeader) {
            this.leaderControllersRunning = true;
            for (const { controller } of leaderOnly) this.startController(controller);
          } else {
            this.leaderControllersRunning = false;
            await this.stopControllers(leaderOnly);
          }
        }
      } finally {
        // Cleared in the same turn the loop ends, so a change reported right after starts a new loop.
        this.converging = false;
      }
    })();
  }

  private startController(controller: Controller<string>): void {
    try {
      controller.start();
    } catch (error) {
      this.log.error('controller failed to start', {
        controller: controller.name,
        error: errorMessage(error),
      });
    }
  }

  /** Stops controllers in parallel; one that stays busy past its abort is logged and left behind. */
  private async stopControllers(managed: readonly ManagedController[]): Promise<void> {
    await Promise.all(
      managed.map(async ({ controller }) => {
        const stopped = controller.stop(this.shutdownTimeoutMs).then(
          () => true,
          (error: unknown) => {
            this.log.error('controller failed to stop', {
              controller: controller.name,
              error: errorMessage(error),
            });
            return true;
          },
        );
        const waitMs = this.shutdownTimeoutMs + ABORT_GRACE_MS;
        if (!(await this.within(stopped, waitMs))) {
          this.log.error(
            'controller still busy after its reconciles were aborted; its reconciler ignores the abort signal',
            {
              controller: controller.name,
              waitedMs: waitMs,
            },
          );
        }
      }),
    );
  }

  /** True if `promise` settles within `ms` on the manager's clock. */
  private async within(promise: Promise<unknown>, ms: number): Promise<boolean> {
    let cancel: (() => void) | undefined;
    const expired = new Promise<false>((resolve) => {
      cancel = this.clock.setTimeout(() => resolve(false), ms);
    });
    try {
      return await Promise.race([promise.then(() => true as const), expired]);
    } finally {
      cancel?.();
    }
  }

  private async stopAll(): Promise<void> {
    const previous = this.phase;
    this.phase = 'stopping';
    if (previous !== 'new') {
      // A runnable that is starting finishes starting; the ones after it are skipped.
      await this.starting?.catch(() => undefined);
      this.log.info('manager stopping');
      this.leadershipSubscription?.unsubscribe();
      this.leadershipSubscription = undefined;
      await this.stopControllers(this.controllers);
      await this.leadershipTransition;
      this.leaderControllersRunning = false;
      this.metrics.leader.set(0);
      for (const hook of this.releaseHooks) {
        try {
          await hook();
        } catch (error) {
          this.log.error('release hook failed; continuing shutdown', { error: errorMessage(error) });
        }
      }
      for (const runnable of this.startedRunnables.splice(0).reverse()) {
        try {
          await runnable.stop();
        } catch (error) {
          this.log.error('runnable failed to stop; continuing shutdown', {
            runnable: runnable.name,
            error: errorMessage(error),
          });
        }
      }
      this.log.info('manager stopped');
    }
    this.phase = 'stopped';
    for (const listener of this.stoppedListeners.splice(0)) listener();
  }

  private assertNotStarted(method: string): void {
    if (this.phase !== 'new') throw new Error(`manager: ${method}() must be called before start()`);
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
