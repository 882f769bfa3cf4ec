// Blocking-query watches as RxJS streams. Each watch long-polls one Consul endpoint with
// `?index=<last>&wait=<w>`, emits only snapshots that differ from the previous one, retries errors with
// capped exponential backoff (reset after a success), limits churn, and aborts its request on unsubscribe.
// With `pollIntervalMs` the same loop makes plain reads on a timer instead: a baseline for benchmarks.
import { isDeepStrictEqual } from 'node:util';
import {
  BehaviorSubject,
  defer,
  distinctUntilChanged,
  map,
  Observable,
  of,
  repeat,
  retry,
  shareReplay,
  switchMap,
  tap,
  timer,
} from 'rxjs';
import type { HealthServiceEntryWire, KvEntry } from '../../api/consul.js';
import { exponentialBackoff, type Backoff } from '../core/backoff.js';
import type { Consul } from './consul.js';
import type { Indexed } from './kv.js';
import type { ConsulMetrics } from './metrics.js';

export type WatchStatus = 'connecting' | 'connected' | 'retrying';

export interface WatchOptions {
  /**
   * Seconds Consul may hold a blocking query (default 600, Consul's maximum: an idle watch then costs one
   * request per ~10 minutes).
   */
  readonly waitSeconds?: number;
  /** Delay before retry n (default 250 ms doubling to 30 s, 20% jitter). */
  readonly backoff?: Backoff;
  /** Minimum time between the starts of two requests, so a churning key cannot spin the loop (default 100 ms). */
  readonly minIntervalMs?: number;
  /**
   * Poll instead of blocking: a plain read (index 0, no wait) every this many ms, start to start. Only
   * for measuring blocking watches against a polling baseline; unset (the default) means blocking queries.
   */
  readonly pollIntervalMs?: number;
  /** Turns a delay into an observable; injected by tests that must not sleep. */
  readonly delay?: (ms: number) => Observable<unknown>;
  readonly metrics?: ConsulMetrics;
  /** Told about each failure before the retry; for logging. */
  readonly onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
}

/** A stream of snapshots plus a companion status stream for readiness. */
export interface Watch<T> {
  readonly name: string;
  readonly snapshots: Observable<T>;
  readonly status: Observable<WatchStatus>;
}

export type BlockingFetch<T> = (
  index: number,
  waitSeconds: number,
  signal: AbortSignal,
) => Promise<Indexed<T>>;

const DEFAULT_BACKOFF = exponentialBackoff({ initialMs: 250, maxMs: 30_000 });

/**
 * The index to send next, per Consul's guidance: reset to 0 (a plain read) when it goes backwards,
 * e.g. after a server restart lost the data; never below 1 once we have one, so we never hot-loop.
 */
export function nextIndex(previous: number, received: number): number {
  if (received < previous) return 0;
  return Math.max(1, received);
}

/** An observable of one promise that is aborted when the subscriber leaves. */
export function fromAbortable<T>(run: (signal: AbortSignal) => Promise<T>): Observable<T> {
  return new Observable<T>((subscriber) => {
    const controller = new AbortController();
    run(controller.signal).then(
      (value) => {
        subscriber.next(value);
        subscriber.complete();
      },
      (error: unknown) => subscriber.error(error),
    );
    return () => controller.abort();
  });
}

/** The generic blocking-query loop behind every watch. */
export function blockingWatch<T>(
  name: string,
  fetch: BlockingFetch<T>,
  options: WatchOptions = {},
): Watch<T> {
  const { pollIntervalMs } = options;
  if (pollIntervalMs !== undefined && !(pollIntervalMs > 0)) {
    throw new RangeError(
      `watch ${name}: pollIntervalMs must be more than 0 (or unset to block), got ${pollIntervalMs}`,
    );
  }
  const polling = pollIntervalMs !== undefined;
  const waitSeconds = polling ? 0 : (options.waitSeconds ?? 600);
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  // A poll is the blocking loop with the index pinned at 0 and the churn limit stretched to the interval.
  const minIntervalMs = pollIntervalMs ?? options.minIntervalMs ?? 100;
  const delay = options.delay ?? ((ms: number) => timer(ms));
  const status = new BehaviorSubject<WatchStatus>('connecting');

  const snapshots = defer(() => {
    let index = 0;
    let lastStart = Number.NEGATIVE_INFINITY;
    const pollOnce = defer(() => {
      const pause = Math.max(0, lastStart + minIntervalMs - performance.now());
      return (pause > 0 ? delay(pause) : of(0)).pipe(
        switchMap((): Observable<Indexed<T>> => {
          lastStart = performance.now();
          return fromAbortable((signal) => fetch(polling ? 0 : index, waitSeconds, signal));
        }),
      );
    });
    return pollOnce.pipe(
      tap((result) => {
        index = nextIndex(index, result.index);
        status.next('connected');
      }),
      retry({
        delay: (error: unknown, attempt: number) => {
          const ms = backoff(attempt);
          // Start over with a plain read: after a failure (often a restarted agent whose index began
          // again below ours) a blocking read at the old index could park for a whole `wait`.
          index = 0;
          status.next('retrying');
          options.metrics?.watchRestarts.inc({ watch: name });
          options.onRetry?.(error, attempt, ms);
          return delay(ms);
        },
      }),
      repeat(),
      map((result) => result.value),
      distinctUntilChanged<T>((a, b) => isDeepStrictEqual(a, b)),
    );
  }).pipe(shareReplay({ bufferSize: 1, refCount: true }));

  return { name, snapshots, status: status.pipe(distinctUntilChanged()) };
}

/** One key: its entry, or undefined while it is absent. */
export function watchKey(
  consul: Consul,
  key: string,
  options: WatchOptions = {},
): Watch<KvEntry | undefined> {
  return blockingWatch(
    `kv:${key}`,
    (index, waitSeconds, signal) => consul.kv.get(key, { index, waitSeconds, signal }),
    options,
  );
}

/** Every key under a prefix, by key. Values stay raw so one bad value never hides the others. */
export function watchPrefix(
  consul: Consul,
  prefix: string,
  options: WatchOptions = {},
): Watch<ReadonlyMap<string, KvEntry>> {
  return blockingWatch(
    `kv:${prefix}`,
    async (index, waitSeconds, signal) => {
      const result = await consul.kv.list(prefix, { index, waitSeconds, signal });
      return { index: result.index, value: new Map(result.value.map((entry) => [entry.key, entry])) };
    },
    options,
  );
}

/** Instances of a service with their checks (only passing ones with `passing`). */
export function watchHealthService(
  consul: Consul,
  service: string,
  options: WatchOptions & { readonly passing?: boolean } = {},
): Watch<HealthServiceEntryWire[]> {
  return blockingWatch(
    `health:${service}`,
    (index, waitSeconds, signal) =>
      consul.health.service(service, { index, waitSeconds, signal, passing: options.passing ?? false }),
    options,
  );
}
