// A rate-limited work queue with client-go's guarantees: a key is queued at most once, a key being
// processed is never handed out again until done(), a key added meanwhile runs once more afterwards,
// and per-key failures back off exponentially until forget(). Time comes from an injected Clock.
import { exponentialBackoff, type Backoff } from '../core/backoff.js';
import { systemClock, type Clock } from '../core/clock.js';

export interface WorkQueueOptions {
  readonly clock?: Clock;
  /** Delay before retry n of a failing key (default 5 ms doubling to 5 min). */
  readonly backoff?: Backoff;
  /** Told the number of keys ready to be handed out whenever it changes. */
  onDepthChange?(depth: number): void;
  /** Told about each add that was not de-duplicated away (client-go's adds metric). */
  onAdd?(): void;
  /** Told about each delayed add, rate-limited or not (client-go's retries metric). */
  onRetry?(): void;
}

export const DEFAULT_FAILURE_BACKOFF: Backoff = exponentialBackoff({ initialMs: 5, maxMs: 300_000 });

// Node's setTimeout fires at once for delays beyond a signed 32-bit millisecond count (~24.8 days).
// Reconciles are level-triggered, so running a far-future requeue a little early is harmless.
const MAX_DELAY_MS = 2_147_483_647;

interface DelayedAdd {
  readonly readyAt: number;
  readonly cancel: () => void;
}

export class WorkQueue<K> {
  private readonly clock: Clock;
  private readonly backoff: Backoff;
  private readonly options: WorkQueueOptions;
  /** Keys ready to hand out, in order; boxed so that shift() tells an entry from an empty queue without a cast. */
  private readonly queue: Array<{ readonly key: K }> = [];
  /** Keys that need processing: queued, or added again while being processed. */
  private readonly dirty = new Set<K>();
  private readonly processing = new Set<K>();
  private readonly delayed = new Map<K, DelayedAdd>();
  private readonly failures = new Map<K, number>();
  private readonly waiters: Array<() => void> = [];
  private shuttingDown = false;

  constructor(options: WorkQueueOptions = {}) {
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.backoff = options.backoff ?? DEFAULT_FAILURE_BACKOFF;
  }

  /** Keys ready to be handed out (not those being processed or waiting out a delay). */
  get length(): number {
    return this.queue.length;
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  add(key: K): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.options.onAdd?.();
    this.dirty.add(key);
    // A key being processed is re-queued by done(), so it never runs twice at once.
    if (this.processing.has(key)) return;
    this.enqueueReady(key);
  }

  /** Adds `key` after `ms`. Of several pending delayed adds of one key, the earliest wins. */
  addAfter(key: K, ms: number): void {
    if (this.shuttingDown) return;
    this.options.onRetry?.();
    if (!(ms > 0)) {
      this.add(key);
      return;
    }
    const delayMs = Math.min(ms, MAX_DELAY_MS);
    const readyAt = this.clock.now() + delayMs;
    const pending = this.delayed.get(key);
    if (pending !== undefined) {
      if (pending.readyAt <= readyAt) return;
      pending.cancel();
    }
    const cancel = this.clock.setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, delayMs);
    this.delayed.set(key, { readyAt, cancel });
  }

  /** Adds `key` after its next backoff delay and counts the failure. */
  addRateLimited(key: K): void {
    if (this.shuttingDown) return;
    const failures = this.numRequeues(key) + 1;
    this.failures.set(key, failures);
    this.addAfter(key, this.backoff(failures));
  }

  /** Resets the key's failure count, so its next failure starts the backoff over. Call on success. */
  forget(key: K): void {
    this.failures.delete(key);
  }

  numRequeues(key: K): number {
    return this.failures.get(key) ?? 0;
  }

  /** Waits for a key and marks it processing; the caller must call done(key). Undefined once shut down. */
  async get(): Promise<K | undefined> {
    // A woken waiter takes its key only when it runs, as client-go's does: until then the key stays
    // dirty, so adding it again in the same turn is de-duplicated instead of re-running it.
    while (!this.shuttingDown && this.queue.length === 0) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    const next = this.shuttingDown ? undefined : this.queue.shift();
    if (next === undefined) return undefined;
    this.dirty.delete(next.key);
    this.processing.add(next.key);
    this.depthChanged();
    return next.key;
  }

  /** Processing of `key` finished; if it was added meanwhile, it is queued again. */
  done(key: K): void {
    this.processing.delete(key);
    if (this.shuttingDown || !this.dirty.has(key)) return;
    this.enqueueReady(key);
  }

  /**
   * Stops intake for good: queued keys are dropped, delayed adds cancelled, and every waiting or future
   * get() yields undefined. Keys being processed may still be marked done(). Failure counts are kept.
   */
  shutDown(): void {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    for (const { cancel } of this.delayed.values()) cancel();
    this.delayed.clear();
    const hadQueued = this.queue.length > 0;
    this.queue.length = 0;
    this.dirty.clear();
    if (hadQueued) this.depthChanged();
    for (const wake of this.waiters.splice(0)) wake();
  }

  private enqueueReady(key: K): void {
    this.queue.push({ key });
    this.depthChanged();
    this.waiters.shift()?.();
  }

  private depthChanged(): void {
    this.options.onDepthChange?.(this.queue.length);
  }
}
