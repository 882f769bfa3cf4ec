// A controller after controller-runtime's internal controller: RxJS sources are mapped to keys and fed
// into a work queue, and workers run the Reconciler on each key with per-key backoff, requested
// requeues, a periodic resync of every known key, metrics and logs. It can be stopped and started again.
import type { Observable, Subscription } from 'rxjs';
import { exponentialBackoff, type Backoff } from '../core/backoff.js';
import { systemClock, type Clock } from '../core/clock.js';
import type { Logger } from './logger.js';
import { isTerminalError, type Reconciler } from './reconciler.js';
import type { ReconcileOutcome, RuntimeMetrics } from './runtime-metrics.js';
import { WorkQueue } from './workqueue.js';

export interface ControllerOptions<K extends string> {
  /** Metric label and log field `controller`; say what the controller owns. */
  readonly name: string;
  readonly reconciler: Reconciler<K>;
  readonly logger: Logger;
  readonly metrics: RuntimeMetrics;
  /** Default systemClock. */
  readonly clock?: Clock;
  /** Per-key failure backoff; default 5 ms doubling to 5 min (controller-runtime goes to 1000 s). */
  readonly backoff?: Backoff;
  /** Period of the re-enqueue of every known key; default 10 min; 0 turns it off. */
  readonly resyncMs?: number;
  /** Workers reconciling different keys at once; default 1. */
  readonly concurrency?: number;
}

export const DEFAULT_RESYNC_MS = 10 * 60_000;
/** How long stop() lets in-flight reconciles finish before aborting them. */
export const DEFAULT_STOP_TIMEOUT_MS = 15_000;
const DEFAULT_BACKOFF = exponentialBackoff({ initialMs: 5, maxMs: 300_000 });

type ControllerState = 'stopped' | 'running' | 'stopping';

export class Controller<K extends string = string> {
  readonly name: string;
  private readonly reconciler: Reconciler<K>;
  private readonly log: Logger;
  private readonly metrics: RuntimeMetrics;
  private readonly clock: Clock;
  private readonly backoff: Backoff;
  private readonly resyncMs: number;
  private readonly concurrency: number;
  private readonly labels: { readonly controller: string };

  /** Each connects one watched source; called on every start(). */
  private readonly sources: Array<(sourceIndex: number) => Subscription> = [];
  /** Keys of each source's latest value: what resync re-enqueues, and what a removed key is found from. */
  private readonly latestKeys = new Map<number, ReadonlySet<K>>();
  private subscriptions: Subscription[] = [];
  private cancelResync: (() => void) | undefined;
  /** A fresh queue per run: a stopped queue is shut down for good. Keys enqueued while stopped wait here. */
  private queue: WorkQueue<K>;
  private workers: Array<Promise<void>> = [];
  private readonly inFlight = new Map<AbortController, K>();
  private state: ControllerState = 'stopped';
  private stopping: Promise<void> | undefined;

  constructor(options: ControllerOptions<K>) {
    const concurrency = options.concurrency ?? 1;
    const resyncMs = options.resyncMs ?? DEFAULT_RESYNC_MS;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new RangeError(
        `controller ${options.name}: concurrency must be a whole number >= 1, got ${concurrency}`,
      );
    }
    if (!(resyncMs >= 0)) {
      throw new RangeError(
        `controller ${options.name}: resyncMs must be >= 0 (0 turns resync off), got ${resyncMs}`,
      );
    }
    this.name = options.name;
    this.reconciler = options.reconciler;
    this.log = options.logger.child({ controller: options.name });
    this.metrics = options.metrics;
    this.clock = options.clock ?? systemClock;
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.resyncMs = resyncMs;
    this.concurrency = concurrency;
    this.labels = { controller: options.name };
    this.metrics.registerController(options.name);
    this.queue = this.newQueue();
  }

  get running(): boolean {
    return this.state === 'running';
  }

  /**
   * Each emission enqueues toKeys(current) ∪ toKeys(previous), so a removed key is reconciled once more.
   * Known keys (for resync) = union over sources of toKeys(latest). Call before start(); subscriptions
   * are owned by the controller.
   */
  watch<T>(source: Observable<T>, toKeys: (value: T) => Iterable<K>): this {
    if (this.state !== 'stopped') {
      throw new Error(`controller ${this.name}: watch() must be called before start()`);
    }
    this.sources.push((sourceIndex) =>
      source.subscribe({
        next: (value) => this.onSourceValue(sourceIndex, value, toKeys),
        // The latest keys stay known, so resync keeps reconciling them; a restart resubscribes.
        error: (error: unknown) =>
          this.log.error('source failed; its changes are not seen until the controller restarts', {
            source: sourceIndex,
            error: errorMessage(error),
          }),
      }),
    );
    return this;
  }

  /** Queues `key` for reconciling. While stopping it is dropped; while stopped it waits for start(). */
  enqueue(key: K): void {
    this.queue.add(key);
  }

  /** Subscribes sources, starts workers and the resync timer. Does nothing if already running. */
  start(): void {
    if (this.state === 'running') return;
    if (this.state === 'stopping') {
      throw new Error(`controller ${this.name} is still stopping; await stop() before starting it again`);
    }
    this.state = 'running';
    const queue = this.queue;
    this.workers = Array.from({ length: this.concurrency }, () => this.runWorker(queue));
    this.subscriptions = this.sources.map((connect, sourceIndex) => connect(sourceIndex));
    this.scheduleResync();
    this.log.info('controller started', { workers: this.concurrency, sources: this.sources.length });
  }

  /**
   * Stops intake (unsubscribes sources, stops resync and delayed requeues), lets in-flight reconciles
   * finish for up to `timeoutMs`, then aborts their signals. Resolves when workers are idle. Idempotent.
   */
  stop(timeoutMs: number = DEFAULT_STOP_TIMEOUT_MS): Promise<void> {
    if (this.stopping !== undefined) return this.stopping;
    if (this.state !== 'running') return Promise.resolve();
    this.state = 'stopping';
    for (const subscription of this.subscriptions.splice(0)) subscription.unsubscribe();
    this.cancelResync?.();
    this.cancelResync = undefined;
    this.queue.shutDown();
    const workers = this.workers.splice(0);
    this.stopping = this.drain(workers, timeoutMs).finally(() => {
      // latestKeys stay: after a restart the first emission also reconciles keys removed meanwhile.
      this.queue = this.newQueue();
      this.state = 'stopped';
      this.stopping = undefined;
    });
    return this.stopping;
  }

  private async drain(workers: ReadonlyArray<Promise<void>>, timeoutMs: number): Promise<void> {
    const idle = Promise.all(workers).then(() => 'idle' as const);
    let cancelTimer: (() => void) | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      cancelTimer = this.clock.setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const first = await Promise.race([idle, timedOut]);
    cancelTimer?.();
    if (first === 'timeout') {
      const keys = [...this.inFlight.values()];
      this.log.warn('reconciles still running after the stop timeout; aborting them', { keys, timeoutMs });
      for (const [abort, key] of this.inFlight) {
        abort.abort(
          new Error(`controller ${this.name} stopped; reconcile of ${key} aborted after ${timeoutMs} ms`),
        );
      }
      await idle;
    }
    this.log.info('controller stopped');
  }

  private newQueue(): WorkQueue<K> {
    return new WorkQueue<K>({
      clock: this.clock,
      backoff: this.backoff,
      onDepthChange: (depth) => this.metrics.workqueueDepth.set(this.labels, depth),
      onAdd: () => this.metrics.workqueueAdds.inc(this.labels),
      onRetry: () => this.metrics.workqueueRetries.inc(this.labels),
    });
  }

  private onSourceValue<T>(sourceIndex: number, value: T, toKeys: (value: T) => Iterable<K>): void {
    let current: ReadonlySet<K>;
    try {
      current = new Set(toKeys(value));
    } catch (error) {
      this.log.error('mapping a source value to keys failed; the value is skipped', {
        source: sourceIndex,
        error: errorMessage(error),
      });
      return;
    }
    const previous = this.latestKeys.get(sourceIndex);
    this.latestKeys.set(sourceIndex, current);
    // The queue de-duplicates, so a key in both sets is reconciled once.
    for (const key of current) this.queue.add(key);
    for (const key of previous ?? []) this.queue.add(key);
  }

  private scheduleResync(): void {
    if (this.resyncMs <= 0) return;
    this.cancelResync = this.clock.setTimeout(() => {
      for (const key of this.knownKeys()) this.queue.add(key);
      this.scheduleResync();
    }, this.resyncMs);
  }

  /** Keys of every source's latest value. */
  private knownKeys(): Set<K> {
    const keys = new Set<K>();
    for (const sourceKeys of this.latestKeys.values()) for (const key of sourceKeys) keys.add(key);
    return keys;
  }

  private async runWorker(queue: WorkQueue<K>): Promise<void> {
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      try {
        await this.reconcileKey(queue, key);
      } finally {
        queue.done(key);
      }
    }
  }

  private async reconcileKey(queue: WorkQueue<K>, key: K): Promise<void> {
    const abort = new AbortController();
    this.inFlight.set(abort, key);
    this.metrics.activeWorkers.inc(this.labels);
    const startedAt = this.clock.now();
    let outcome: ReconcileOutcome;
    try {
      const result = await this.reconciler.reconcile(key, abort.signal);
      queue.forget(key);
      if (typeof result === 'object' && result.requeueAfterMs > 0) {
        queue.addAfter(key, result.requeueAfterMs);
        outcome = 'requeue_after';
      } else {
        outcome = 'success';
      }
      if (this.log.isDebugEnabled()) {
        this.log.child({ key }).debug('reconciled', typeof result === 'object' ? { ...result } : {});
      }
    } catch (error) {
      outcome = this.onReconcileError(queue, key, error, abort.signal);
    } finally {
      this.inFlight.delete(abort);
      this.metrics.activeWorkers.dec(this.labels);
      this.metrics.reconcileTime.observe(this.labels, Math.max(0, this.clock.now() - startedAt) / 1000);
    }
    this.metrics.reconcileTotal.inc({ ...this.labels, result: outcome });
  }

  private onReconcileError(
    queue: WorkQueue<K>,
    key: K,
    error: unknown,
    signal: AbortSignal,
  ): ReconcileOutcome {
    const log = this.log.child({ key });
    this.metrics.reconcileErrors.inc(this.labels);
    if (isTerminalError(error)) {
      queue.forget(key);
      this.metrics.terminalReconcileErrors.inc(this.labels);
      log.warn('reconcile failed on bad input; not retrying until the key changes', {
        error: errorMessage(error),
      });
      return 'terminal_error';
    }
    queue.addRateLimited(key);
    if (signal.aborted) {
      // Expected when a stop outlasts its timeout; the next start reconciles the key again.
      log.warn('reconcile aborted because the controller stopped', { error: errorMessage(error) });
    } else {
      log.error('reconcile failed; retrying with backoff', {
        error: errorMessage(error),
        failures: queue.numRequeues(key),
      });
    }
    return 'error';
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
