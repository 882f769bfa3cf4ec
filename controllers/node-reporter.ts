// NodeReporter: keeps `<prefix>/cluster/nodes/<node>` equal to this agent's report (labels, resources, app
// summary, leader flag), acquired with the agent's session so the key vanishes when the agent dies. It
// writes only when the content differs, repairs a deleted key, and never takes the key from another agent.
// With `heartbeatMs` it also rewrites an unchanged report that often: App Manager's style, for benchmarks.
import { isDeepStrictEqual } from 'node:util';
import { BehaviorSubject, distinctUntilChanged, type Observable, type Subscription } from 'rxjs';
import type { NodeReport } from '../api/cluster.js';
import type { KvEntry } from '../api/consul.js';
import { NodeName } from '../api/names.js';
import { exponentialBackoff, type Backoff } from '../src/core/backoff.js';
import { systemClock, type Clock } from '../src/core/clock.js';
import type { Consul } from '../src/consul/consul.js';
import { watchKey, type WatchOptions } from '../src/consul/watch.js';
import type { Logger } from '../src/runtime/logger.js';
import type { Runnable } from '../src/runtime/manager.js';
import { WorkQueue } from '../src/runtime/workqueue.js';

/** Everything of the report but the leader flag, which the reporter adds itself. */
export type NodeReportSource = () => Omit<NodeReport, 'leader'>;

export type NodeReporterState = 'waiting' | 'ok' | 'conflict';

export interface NodeReporterOptions {
  readonly consul: Consul;
  readonly prefix: string;
  readonly node: string;
  /** The agent's session (SessionManager.sessions): undefined while there is none. */
  readonly sessions: Observable<string | undefined>;
  /** LeaderElector.leadership; becomes the report's `leader` flag. */
  readonly leadership: Observable<boolean>;
  /** Read at each check, so it should be cheap; its result is compared, not trusted to change. */
  readonly report: NodeReportSource;
  /** A hint that report() may have changed (e.g. an app started); the value is ignored. */
  readonly changes?: Observable<unknown>;
  readonly clock?: Clock;
  readonly logger: Logger;
  /** How often report() is checked without a hint; default 30 s; 0 turns it off. */
  readonly resyncMs?: number;
  /** Delay before retry n of a failed write; default 500 ms doubling to 30 s. */
  readonly retryBackoff?: Backoff;
  /**
   * Rewrite the key at least this often even when the report is unchanged; default 0 = off (write only
   * on change). A polling baseline for benchmarks, not something the cluster needs.
   */
  readonly heartbeatMs?: number;
  /** For the watch of the node key (e.g. `pollIntervalMs` for the polling baseline). */
  readonly watchOptions?: WatchOptions;
}

export const DEFAULT_REPORT_RESYNC_MS = 30_000;
const DEFAULT_RETRY_BACKOFF = exponentialBackoff({ initialMs: 500, maxMs: 30_000 });
/** The one key of the work queue: there is one node key to converge. */
const REPORT = 'report';
/**
 * While the key is still held by a session of ours that was just replaced, Consul is deleting it (Behavior
 * delete); check again after this long in case the watch misses the short-lived state.
 */
const OWN_STALE_RECHECK_MS = 1_000;

/** The node key of `node` under a KV prefix. */
export function nodeKeyOf(prefix: string, node: string): string {
  return `${prefix}/cluster/nodes/${node}`;
}

/** The report as it reads back from Consul: JSON without undefined fields. */
export function normalizeReport(report: NodeReport): unknown {
  return JSON.parse(JSON.stringify(report)) as unknown;
}

/** Whether a stored value holds exactly `report` (already normalized); unreadable values never match. */
export function storedReportEquals(value: string | null, report: unknown): boolean {
  if (value === null) return false;
  try {
    return isDeepStrictEqual(JSON.parse(value), report);
  } catch {
    return false;
  }
}

interface LastWrite {
  readonly session: string;
  readonly content: unknown;
  /** The watch snapshot current when we wrote; while the watch still shows it, it has not seen our write. */
  readonly seen: KvEntry | undefined;
}

export class NodeReporter implements Runnable {
  readonly name = 'node-reporter';
  readonly nodeKey: string;
  /** 'ok': our session holds the key with the current report; 'conflict': another agent's session holds it. */
  readonly state: Observable<NodeReporterState>;

  readonly #options: NodeReporterOptions;
  readonly #consul: Consul;
  readonly #log: Logger;
  readonly #resyncMs: number;
  readonly #heartbeatMs: number;
  readonly #clock: Clock;
  readonly #state = new BehaviorSubject<NodeReporterState>('waiting');
  readonly #queue: WorkQueue<typeof REPORT>;
  readonly #abort = new AbortController();
  readonly #subscriptions: Subscription[] = [];
  /** Every session this agent has had: a key held by one of them is ours, not a conflict. */
  readonly #ownSessions = new Set<string>();
  #session: string | undefined;
  #leader = false;
  #entry: KvEntry | undefined;
  #entrySeen = false;
  #lastWrite: LastWrite | undefined;
  /** When our last write succeeded (clock ms), for the heartbeat. */
  #lastWrittenAt: number | undefined;
  /** The foreign holder last reported, so a lasting conflict is logged once, not on every check. */
  #reportedHolder: string | undefined;
  #worker: Promise<void> | undefined;
  #stopped = false;

  constructor(options: NodeReporterOptions) {
    if (!NodeName.is(options.node)) {
      throw new RangeError(
        `node reporter: node name ${JSON.stringify(options.node)} is invalid; use 1-128 letters, digits, '_', '.' or '-'`,
      );
    }
    const resyncMs = options.resyncMs ?? DEFAULT_REPORT_RESYNC_MS;
    if (!(resyncMs >= 0)) {
      throw new RangeError(`node reporter: resyncMs must be >= 0 (0 turns resync off), got ${resyncMs}`);
    }
    const heartbeatMs = options.heartbeatMs ?? 0;
    if (!(heartbeatMs >= 0)) {
      throw new RangeError(`node reporter: heartbeatMs must be >= 0 (0 turns it off), got ${heartbeatMs}`);
    }
    this.#options = options;
    this.#consul = options.consul;
    this.#log = options.logger.child({ component: 'node-reporter', node: options.node });
    this.#resyncMs = resyncMs;
    this.#heartbeatMs = heartbeatMs;
    this.#clock = options.clock ?? systemClock;
    this.#queue = new WorkQueue({
      clock: this.#clock,
      backoff: options.retryBackoff ?? DEFAULT_RETRY_BACKOFF,
    });
    this.nodeKey = nodeKeyOf(options.prefix, options.node);
    this.state = this.#state.pipe(distinctUntilChanged());
  }

  /** Subscribes and returns at once; the work goes on in the background until stop(). */
  start(): Promise<void> {
    if (this.#worker !== undefined || this.#stopped) return Promise.resolve();
    const { sessions, leadership, changes } = this.#options;
    const watch = watchKey(this.#consul, this.nodeKey, {
      ...this.#options.watchOptions,
      onRetry: (error, attempt, delayMs) =>
        this.#log.warn('watching the node key failed; retrying', {
          key: this.nodeKey,
          attempt,
          delayMs,
          error: errorMessage(error),
        }),
    });
    // A failed input stream keeps its last value; resync still re-checks report() with it.
    const onError = (input: string) => (error: unknown) =>
      this.#log.error(`the ${input} stream of the node reporter failed; its later changes are not seen`, {
        error: errorMessage(error),
      });
    this.#subscriptions.push(
      sessions.pipe(distinctUntilChanged()).subscribe({
        next: (session) => {
          this.#session = session;
          if (session !== undefined) this.#ownSessions.add(session);
          else this.#state.next('waiting');
          this.#queue.add(REPORT);
        },
        error: onError('session'),
      }),
      leadership.pipe(distinctUntilChanged()).subscribe({
        next: (leader) => {
          this.#leader = leader;
          this.#queue.add(REPORT);
        },
        error: onError('leadership'),
      }),
      watch.snapshots.subscribe((entry) => {
        this.#entry = entry;
        this.#entrySeen = true;
        this.#queue.add(REPORT);
      }),
    );
    if (changes !== undefined) {
      this.#subscriptions.push(
        changes.subscribe({ next: () => this.#queue.add(REPORT), error: onError('changes') }),
      );
    }
    this.#queue.add(REPORT);
    this.#worker = this.#work();
    return Promise.resolve();
  }

  /** Stops checking; the key stays (it goes with the session). Never rejects. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const subscription of this.#subscriptions.splice(0)) subscription.unsubscribe();
    this.#queue.shutDown();
    this.#abort.abort(new Error('node reporter stopped'));
    await this.#worker;
    this.#state.next('waiting');
  }

  async #work(): Promise<void> {
    const signal = this.#abort.signal;
    for (;;) {
      const key = await this.#queue.get();
      if (key === undefined) return;
      try {
        await this.#reconcile(signal);
        this.#queue.forget(key);
      } catch (error) {
        if (!signal.aborted) {
          this.#log.warn('writing the node report failed; retrying', {
            key: this.nodeKey,
            attempt: this.#queue.numRequeues(key) + 1,
            error: errorMessage(error),
          });
          this.#queue.addRateLimited(key);
        }
      } finally {
        this.#queue.done(key);
      }
      if (this.#resyncMs > 0) this.#queue.addAfter(key, this.#resyncMs);
    }
  }

  /** Makes the node key hold our report under our session, if the key is ours to write. */
  async #reconcile(signal: AbortSignal): Promise<void> {
    const session = this.#session;
    if (session === undefined || !this.#entrySeen) {
      this.#state.next('waiting');
      return;
    }
    const seen = this.#entry;
    let observed = seen;
    if (this.#lastWrite !== undefined && this.#lastWrite.seen === seen) {
      // The watch has not shown our last write yet: read the key rather than write blind again.
      observed = (await this.#consul.kv.get(this.nodeKey, { signal })).value;
    }
    const holder = observed?.session;
    if (holder !== undefined && holder !== session) {
      if (this.#ownSessions.has(holder)) {
        // Our replaced session: Consul deletes the key with it (Behavior delete) any moment now.
        this.#state.next('waiting');
        this.#queue.addAfter(REPORT, OWN_STALE_RECHECK_MS);
        return;
      }
      await this.#reportConflict(holder, signal);
      return;
    }
    this.#reportedHolder = undefined;
    const content = normalizeReport({ ...this.#options.report(), leader: this.#leader });
    if (holder === session && observed !== undefined && storedReportEquals(observed.value, content)) {
      this.#state.next('ok');
      const heartbeatInMs = this.#heartbeatDueInMs();
      if (heartbeatInMs > 0) {
        if (Number.isFinite(heartbeatInMs)) this.#queue.addAfter(REPORT, heartbeatInMs);
        return;
      }
    }
    const acquired = await this.#consul.kv.put(this.nodeKey, content, { acquire: session, signal });
    if (!acquired) {
      throw new Error(
        `consul did not let session ${session} acquire ${this.nodeKey}: another session took it first, or it is in its lock delay`,
      );
    }
    this.#lastWrittenAt = this.#clock.now();
    this.#lastWrite = { session, content, seen };
    // 'ok' once the watch shows the write: that run finds nothing to do. A polling watch shows it only at
    // its next poll, by when the report (free memory) has often moved on, so confirm it with a read now.
    if (this.#options.watchOptions?.pollIntervalMs !== undefined && this.#state.value !== 'ok') {
      this.#queue.add(REPORT);
    }
    // Consul keeps the index of an identical write, so no watch wakes us for the next heartbeat.
    if (this.#heartbeatMs > 0) this.#queue.addAfter(REPORT, this.#heartbeatMs);
  }

  /** Ms until the heartbeat rewrites an unchanged report: 0 = now, Infinity = no heartbeat. */
  #heartbeatDueInMs(): number {
    if (this.#heartbeatMs === 0) return Number.POSITIVE_INFINITY;
    if (this.#lastWrittenAt === undefined) return 0;
    return Math.max(0, this.#lastWrittenAt + this.#heartbeatMs - this.#clock.now());
  }

  async #reportConflict(holder: string, signal: AbortSignal): Promise<void> {
    this.#state.next('conflict');
    if (this.#reportedHolder === holder) return;
    this.#reportedHolder = holder;
    let where = '';
    try {
      const info = await this.#consul.session.info(holder, signal);
      if (info !== undefined)
        where = ` (consul node ${info.node}, session name ${JSON.stringify(info.name)})`;
    } catch {
      // Only for the message; the conflict stands either way.
    }
    this.#log.error(
      `node key ${this.nodeKey} is held by another session ${holder}${where}: two agents use the node name ` +
        `${JSON.stringify(this.#options.node)}. Not taking it over; give each agent its own node name or stop ` +
        'the other one. Checking again when the key changes.',
      { key: this.nodeKey, holder },
    );
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
