// LeaderElector: contends for `<prefix>/cluster/leader` with this agent's session and reports whether we
// hold it. Leadership is derived from the watched key and the current session only, so it turns false
// the moment the session is lost or replaced, and a fenced txn can name the session we lead under.
import {
  BehaviorSubject,
  combineLatest,
  defer,
  distinctUntilChanged,
  EMPTY,
  ignoreElements,
  Observable,
  retry,
  switchMap,
  tap,
  type Subscription,
} from 'rxjs';
import type { KvEntry } from '../api/consul.js';
import { NodeName } from '../api/names.js';
import { exponentialBackoff, type Backoff } from '../src/core/backoff.js';
import { systemClock, type Clock } from '../src/core/clock.js';
import type { Consul } from '../src/consul/consul.js';
import { fromAbortable, watchKey, type WatchOptions } from '../src/consul/watch.js';
import type { Logger } from '../src/runtime/logger.js';
import type { Runnable } from '../src/runtime/manager.js';
import type { RuntimeMetrics } from '../src/runtime/runtime-metrics.js';

export interface LeaderElectorOptions {
  readonly consul: Consul;
  readonly prefix: string;
  readonly node: string;
  /** The agent's session (SessionManager.sessions): undefined while there is none. */
  readonly sessions: Observable<string | undefined>;
  readonly clock?: Clock;
  readonly logger: Logger;
  /** Its `leader` gauge follows leadership. */
  readonly metrics?: RuntimeMetrics;
  /** Delay before retry n of a failed acquire of a free key; default 250 ms doubling to 5 s. */
  readonly retryBackoff?: Backoff;
  /** For the watch of the leader key (e.g. `pollIntervalMs` for the polling baseline). */
  readonly watchOptions?: WatchOptions;
}

const DEFAULT_RETRY_BACKOFF = exponentialBackoff({ initialMs: 250, maxMs: 5_000 });

/** The leader key of a KV prefix. */
export function leaderKeyOf(prefix: string): string {
  return `${prefix}/cluster/leader`;
}

/** Consul answered `false` to an acquire: another session got there first, or the key is in its lock delay. */
class NotAcquiredError extends Error {
  constructor(key: string) {
    super(`another session holds ${key}, or it is in its lock delay`);
    this.name = 'NotAcquiredError';
  }
}

export class LeaderElector implements Runnable {
  readonly name = 'leader-elector';
  readonly leaderKey: string;
  /** True while our current session holds the leader key; distinct values, replays the latest, starts false. */
  readonly leadership: Observable<boolean>;

  readonly #options: LeaderElectorOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #backoff: Backoff;
  readonly #leading = new BehaviorSubject(false);
  #session: string | undefined;
  #entry: KvEntry | undefined;
  #subscription: Subscription | undefined;
  #stopped = false;

  constructor(options: LeaderElectorOptions) {
    if (!NodeName.is(options.node)) {
      throw new RangeError(
        `leader elector: node name ${JSON.stringify(options.node)} is invalid; use 1-128 letters, digits, '_', '.' or '-'`,
      );
    }
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.logger.child({ component: 'leader-elector', node: options.node });
    this.#backoff = options.retryBackoff ?? DEFAULT_RETRY_BACKOFF;
    this.leaderKey = leaderKeyOf(options.prefix);
    this.leadership = this.#leading.pipe(distinctUntilChanged());
  }

  /** The session we lead under, for `check-session` in fenced txns; undefined when not leading. */
  leaderSession(): string | undefined {
    return this.#leading.value ? this.#session : undefined;
  }

  /** Subscribes and returns at once; the work goes on in the background until stop(). */
  start(): Promise<void> {
    if (this.#subscription !== undefined || this.#stopped) return Promise.resolve();
    const watch = watchKey(this.#options.consul, this.leaderKey, {
      ...this.#options.watchOptions,
      onRetry: (error, attempt, delayMs) =>
        this.#log.warn('watching the leader key failed; retrying', {
          key: this.leaderKey,
          attempt,
          delayMs,
          error: errorMessage(error),
        }),
    });
    this.#subscription = combineLatest([this.#options.sessions.pipe(distinctUntilChanged()), watch.snapshots])
      .pipe(
        tap(([session, entry]) => {
          this.#session = session;
          this.#entry = entry;
          this.#setLeading(session !== undefined && entry?.session === session);
        }),
        // A new session or key state cancels an acquire in flight: the next one decides afresh.
        switchMap(([session, entry]) =>
          session !== undefined && entry?.session === undefined ? this.#acquire(session) : EMPTY,
        ),
      )
      .subscribe({
        error: (error: unknown) => {
          // Not expected (the watch retries forever); say so loudly rather than lead on stale facts.
          this.#log.error('the leader election stopped on an unexpected error; acting as a follower', {
            error: errorMessage(error),
          });
          this.#setLeading(false);
        },
      });
    return Promise.resolve();
  }

  /** Stops contending and releases the key if we hold it, so another agent takes over without waiting. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#subscription?.unsubscribe();
    this.#subscription = undefined;
    const session = this.leaderSession();
    const value = this.#entry?.value ?? null;
    this.#setLeading(false);
    if (session === undefined) return;
    try {
      await this.#options.consul.kv.put(this.leaderKey, value ?? '', { release: session });
      this.#log.info('released the leader key', { key: this.leaderKey, session });
    } catch (error) {
      this.#log.warn('could not release the leader key; it is freed when the session is destroyed', {
        key: this.leaderKey,
        session,
        error: errorMessage(error),
      });
    }
  }

  /** Tries to take the free key with `session`, retrying with backoff until the watch shows a change. */
  #acquire(session: string): Observable<never> {
    const { consul, node } = this.#options;
    return defer(() => {
      const record = { node, since: new Date(this.#clock.now()).toISOString() };
      return fromAbortable(async (signal) => {
        if (!(await consul.kv.put(this.leaderKey, record, { acquire: session, signal }))) {
          throw new NotAcquiredError(this.leaderKey);
        }
      });
    }).pipe(
      retry({
        delay: (error: unknown, attempt: number) => {
          const delayMs = this.#backoff(attempt);
          // Losing a race is normal; anything else (Consul down, session just invalidated) is worth a warning.
          const level = error instanceof NotAcquiredError ? 'debug' : 'warn';
          this.#log.log(level, 'acquiring the free leader key failed; retrying', {
            key: this.leaderKey,
            session,
            attempt,
            delayMs,
            error: errorMessage(error),
          });
          return clockTimer(this.#clock, delayMs);
        },
      }),
      ignoreElements(),
    );
  }

  #setLeading(leading: boolean): void {
    if (leading === this.#leading.value) return;
    this.#options.metrics?.leader.set(leading ? 1 : 0);
    if (leading) {
      this.#log.info('became the cluster leader', { key: this.leaderKey, session: this.#session });
    } else {
      const holder = this.#entry?.session;
      this.#log.info('no longer the cluster leader', {
        key: this.leaderKey,
        session: this.#session ?? 'none',
        holder: holder ?? 'none',
      });
    }
    this.#leading.next(leading);
  }
}

/** Emits once after `ms` on `clock`; unsubscribing cancels it. */
function clockTimer(clock: Clock, ms: number): Observable<0> {
  return new Observable<0>((subscriber) =>
    clock.setTimeout(() => {
      subscriber.next(0);
      subscriber.complete();
    }, ms),
  );
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
