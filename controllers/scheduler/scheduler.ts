// Scheduler (leader only): reads tasks, node reports and the current topology from KV watches, runs the
// pure placement, and writes only the `cluster/topology/<node>` and `cluster/status/<task>` keys that
// change, in txns fenced by `check-session` on the leader key so a deposed leader cannot write.
import { isLeft } from 'fp-ts/lib/Either.js';
import { Gauge, type Registry } from 'prom-client';
import { defer, tap, type Observable } from 'rxjs';
import { decodeClusterTaskJson, NodeReport, NodeTopology } from '../../api/cluster.js';
import type { KvEntry } from '../../api/consul.js';
import { decodeJson } from '../../api/decode.js';
import { NodeName, TaskName } from '../../api/names.js';
import { systemClock, type Clock } from '../../src/core/clock.js';
import { DecodeMemo } from '../../src/core/decode-memo.js';
import type { Consul } from '../../src/consul/consul.js';
import { TxnRollbackError } from '../../src/consul/errors.js';
import { MAX_TXN_OPS, type TxnOp } from '../../src/consul/txn.js';
import { watchPrefix, type WatchOptions } from '../../src/consul/watch.js';
import { Controller } from '../../src/runtime/controller.js';
import type { Logger } from '../../src/runtime/logger.js';
import type { ReconcileResult, Reconciler } from '../../src/runtime/reconciler.js';
import type { RuntimeMetrics } from '../../src/runtime/runtime-metrics.js';
import { leaderKeyOf } from '../leader-elector.js';
import {
  schedule,
  type FrozenFootprint,
  type Placement,
  type SchedulableNode,
  type ScheduleResult,
  type TaskToPlace,
  type Topology,
} from './placement.js';
import { frozenTaskStatus, storedJsonEquals, validTaskStatus, type TaskStatusRecord } from './task-status.js';

export interface SchedulerOptions {
  readonly consul: Consul;
  readonly prefix: string;
  /** The session we lead under (LeaderElector.leaderSession): the fence of every write. */
  readonly leaderSession: () => string | undefined;
  readonly metrics: RuntimeMetrics;
  /** Gets `appmesh_scheduler_unschedulable_replicas{task}`. */
  readonly registry: Registry;
  readonly logger: Logger;
  readonly clock?: Clock;
  readonly watchOptions?: WatchOptions;
}

/** The one work-queue key: the whole cluster is scheduled at once. */
const CLUSTER = 'cluster';
/** How soon to look again when we are started but the elector has no session for us yet. */
const NO_SESSION_RECHECK_MS = 1_000;
const UNSCHEDULABLE_METRIC = 'appmesh_scheduler_unschedulable_replicas';

/** The controller named `scheduler`; add it with `manager.addController(c, { leaderOnly: true })`. */
export function createScheduler(options: SchedulerOptions): Controller<string> {
  const scheduler = new ClusterScheduler(options);
  const controller = new Controller<string>({
    name: 'scheduler',
    reconciler: scheduler,
    logger: options.logger,
    metrics: options.metrics,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  for (const source of scheduler.sources()) controller.watch(source, () => [CLUSTER]);
  return controller;
}

type Kind = 'tasks' | 'nodes' | 'topology' | 'status';
const KINDS: readonly Kind[] = ['tasks', 'nodes', 'topology', 'status'];

const decodeNodeReport = (raw: string, key: string) => decodeJson(NodeReport, raw, key);
const decodeNodeTopology = (raw: string, key: string) => decodeJson(NodeTopology, raw, key);

/** A value we wrote, to be used while the watch still shows the entry we replaced (base index 0: absent). */
interface PendingWrite {
  readonly baseIndex: number;
  /** undefined: deleted. */
  readonly value: string | undefined;
}

interface TaskInputs {
  readonly tasks: Map<string, TaskToPlace>;
  readonly frozen: Map<string, string>;
}

class ClusterScheduler implements Reconciler<string> {
  readonly #options: SchedulerOptions;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #leaderKey: string;
  readonly #prefixes: Readonly<Record<Kind, string>>;
  readonly #unschedulable: Gauge<'task'>;
  /** Latest snapshot per watched prefix; undefined until it emitted since the last start. */
  readonly #snapshots = new Map<Kind, ReadonlyMap<string, KvEntry>>();
  readonly #pending = new Map<string, PendingWrite>();
  /** The footprint and replication of each task's last valid value: what a frozen task keeps reserving. */
  readonly #lastValid = new Map<string, { footprint: FrozenFootprint; replication: number }>();
  /** Problems already logged, by subject, so a bad value is logged once per change, not per reconcile. */
  readonly #logged = new Map<string, string>();
  readonly #gaugeTasks = new Set<string>();
  /** Decodes of the last values seen, so a reconcile decodes only what changed. */
  readonly #decodedTasks = new DecodeMemo<ReturnType<typeof decodeClusterTaskJson>>();
  readonly #decodedNodes = new DecodeMemo<ReturnType<typeof decodeNodeReport>>();
  readonly #decodedTopology = new DecodeMemo<ReturnType<typeof decodeNodeTopology>>();

  constructor(options: SchedulerOptions) {
    this.#options = options;
    this.#log = options.logger;
    this.#clock = options.clock ?? systemClock;
    this.#leaderKey = leaderKeyOf(options.prefix);
    const base = `${options.prefix}/cluster`;
    this.#prefixes = {
      tasks: `${base}/tasks/`,
      nodes: `${base}/nodes/`,
      topology: `${base}/topology/`,
      status: `${base}/status/`,
    };
    // A scheduler created again on the same registry (e.g. in tests) shares the gauge.
    const existing = options.registry.getSingleMetric(UNSCHEDULABLE_METRIC);
    this.#unschedulable =
      existing instanceof Gauge
        ? existing
        : new Gauge({
            name: UNSCHEDULABLE_METRIC,
            help: 'Replicas of a cluster task that the scheduler could not place.',
            labelNames: ['task'],
            registers: [options.registry],
          });
  }

  /** One source per watched prefix; subscribing (each controller start) forgets what an earlier run saw. */
  sources(): Array<Observable<unknown>> {
    return KINDS.map((kind) =>
      defer(() => {
        this.#snapshots.delete(kind);
        this.#pending.clear(); // a new run trusts only what the watches show
        return watchPrefix(
          this.#options.consul,
          this.#prefixes[kind],
          this.#watchOptions(kind),
        ).snapshots.pipe(tap((snapshot) => this.#snapshots.set(kind, snapshot)));
      }),
    );
  }

  async reconcile(_key: string, signal: AbortSignal): Promise<ReconcileResult> {
    const tasksSnapshot = this.#snapshots.get('tasks');
    const nodesSnapshot = this.#snapshots.get('nodes');
    const topologySnapshot = this.#snapshots.get('topology');
    const statusSnapshot = this.#snapshots.get('status');
    // Placing against a partial view would move replicas for nothing: wait until every source spoke.
    if (!tasksSnapshot || !nodesSnapshot || !topologySnapshot || !statusSnapshot) return;
    const session = this.#options.leaderSession();
    if (session === undefined) {
      this.#log.debug('no leader session yet; scheduling later');
      return { requeueAfterMs: NO_SESSION_RECHECK_MS };
    }

    const { tasks, frozen } = this.#readTasks(tasksSnapshot);
    const storedTopology = this.#effective('topology', topologySnapshot);
    const result = schedule({
      tasks,
      frozen: new Set(frozen.keys()),
      frozenFootprints: new Map(
        [...frozen.keys()].flatMap((task) => {
          const last = this.#lastValid.get(task);
          return last ? [[task, last.footprint] as const] : [];
        }),
      ),
      nodes: this.#readNodes(nodesSnapshot),
      topology: this.#readTopology(storedTopology),
      now: new Date(this.#clock.now()).toISOString(),
    });

    const ops = [
      ...this.#topologyWrites(storedTopology, result.topology),
      ...this.#statusWrites(this.#effective('status', statusSnapshot), result, frozen),
    ];
    this.#updateGauge(result.status, frozen);
    if (ops.length > 0) await this.#write(session, ops, signal);
  }

  /** Sets of alive nodes' changed placements; deletes of keys of nodes no longer alive. */
  #topologyWrites(
    stored: ReadonlyMap<string, string>,
    wanted: ReadonlyMap<string, readonly Placement[]>,
  ): TxnOp[] {
    const ops: TxnOp[] = [];
    for (const [node, placements] of wanted) {
      const value = stored.get(node);
      // An alive node without a key and without placements needs no key.
      const unchanged = value === undefined ? placements.length === 0 : storedJsonEquals(value, placements);
      if (!unchanged) {
        ops.push({ verb: 'set', key: this.#prefixes.topology + node, value: JSON.stringify(placements) });
      }
    }
    for (const node of stored.keys()) {
      if (!wanted.has(node)) ops.push({ verb: 'delete', key: this.#prefixes.topology + node });
    }
    return ops;
  }

  /** Sets of changed task statuses (valid and frozen tasks); deletes of statuses of deleted tasks. */
  #statusWrites(
    stored: ReadonlyMap<string, string>,
    result: ScheduleResult,
    frozen: ReadonlyMap<string, string>,
  ): TxnOp[] {
    const wanted = new Map<string, TaskStatusRecord>();
    for (const [task, status] of result.status) wanted.set(task, validTaskStatus(status));
    for (const [task, message] of frozen) {
      const lastReplication = this.#lastValid.get(task)?.replication;
      wanted.set(task, frozenTaskStatus(task, message, lastReplication, result.topology));
    }
    const ops: TxnOp[] = [];
    for (const [task, record] of wanted) {
      if (!storedJsonEquals(stored.get(task), record)) {
        ops.push({ verb: 'set', key: this.#prefixes.status + task, value: JSON.stringify(record) });
      }
    }
    for (const task of stored.keys()) {
      if (!wanted.has(task)) ops.push({ verb: 'delete', key: this.#prefixes.status + task });
    }
    return ops;
  }

  /** Valid tasks to place, and frozen ones with their decode message. Keys that are not task names are skipped. */
  #readTasks(snapshot: ReadonlyMap<string, KvEntry>): TaskInputs {
    const tasks = new Map<string, TaskToPlace>();
    const frozen = new Map<string, string>();
    for (const [key, entry] of snapshot) {
      const name = key.slice(this.#prefixes.tasks.length);
      if (!TaskName.is(name)) {
        if (name !== '') this.#logOnce(`task-key:${key}`, 'ignoring a key that is not a task name', { key });
        continue;
      }
      const decoded = this.#decodedTasks.get(key, entry.value ?? '', () =>
        decodeClusterTaskJson(entry.value, name, key),
      );
      if (!isLeft(decoded)) {
        const { task } = decoded.right;
        tasks.set(name, {
          name,
          replication: task.replication,
          memoryMB: task.memoryMB ?? 0,
          port: task.port,
          condition: task.condition ?? {},
        });
        this.#lastValid.set(name, {
          footprint: { port: task.port, memoryMB: task.memoryMB ?? 0 },
          replication: task.replication,
        });
        this.#logged.delete(`task:${name}`);
      } else {
        frozen.set(name, decoded.left.message);
        this.#logOnce(`task:${name}`, 'task value is invalid; its placements stay frozen until it is fixed', {
          task: name,
          error: decoded.left.message,
        });
      }
    }
    this.#decodedTasks.sweep();
    for (const name of this.#lastValid.keys()) {
      if (!snapshot.has(this.#prefixes.tasks + name)) {
        this.#lastValid.delete(name);
        this.#logged.delete(`task:${name}`);
      }
    }
    return { tasks, frozen };
  }

  /** Alive nodes whose report decodes; a bad report counts as an absent node. */
  #readNodes(snapshot: ReadonlyMap<string, KvEntry>): SchedulableNode[] {
    const nodes: SchedulableNode[] = [];
    for (const [key, entry] of snapshot) {
      const name = key.slice(this.#prefixes.nodes.length);
      if (!NodeName.is(name)) continue;
      const report = this.#decodedNodes.get(key, entry.value ?? '', (raw) => decodeNodeReport(raw, key));
      if (isLeft(report)) {
        this.#logOnce(`node:${name}`, 'node report is invalid; treating the node as absent', {
          node: name,
          error: report.left.message,
        });
        continue;
      }
      this.#logged.delete(`node:${name}`);
      nodes.push({
        name,
        labels: report.right.label,
        memTotalBytes: report.right.resource.mem_total_bytes,
        worker: report.right.worker ?? true,
      });
    }
    this.#decodedNodes.sweep();
    return nodes;
  }

  /** Placements by node; a value that does not decode counts as empty (and gets overwritten). */
  #readTopology(stored: ReadonlyMap<string, string>): Topology {
    const topology = new Map<string, readonly Placement[]>();
    for (const [node, value] of stored) {
      const key = this.#prefixes.topology + node;
      const decoded = this.#decodedTopology.get(key, value, (raw) => decodeNodeTopology(raw, key));
      topology.set(node, isLeft(decoded) ? [] : decoded.right);
    }
    this.#decodedTopology.sweep();
    return topology;
  }

  /**
   * The values under a prefix by the part after it, with our own writes applied while the watch has
   * not delivered them yet, so a reconcile right after a write neither repeats nor undoes it.
   */
  #effective(kind: Kind, snapshot: ReadonlyMap<string, KvEntry>): Map<string, string> {
    const prefix = this.#prefixes[kind];
    const values = new Map<string, string>();
    for (const [key, entry] of snapshot) values.set(key, entry.value ?? '');
    for (const [key, pending] of this.#pending) {
      if (!key.startsWith(prefix)) continue;
      const entry = snapshot.get(key);
      if ((entry?.modifyIndex ?? 0) !== pending.baseIndex) {
        this.#pending.delete(key); // the watch caught up (or someone else wrote): trust it
      } else if (pending.value === undefined) {
        values.delete(key);
      } else {
        values.set(key, pending.value);
      }
    }
    const byName = new Map<string, string>();
    for (const [key, value] of values) {
      const name = key.slice(prefix.length);
      if (name !== '') byName.set(name, value);
    }
    return byName;
  }

  #updateGauge(
    status: ReadonlyMap<string, { readonly unschedulable: number }>,
    frozen: ReadonlyMap<string, string>,
  ): void {
    const present = new Set([...status.keys(), ...frozen.keys()]);
    for (const task of this.#gaugeTasks) {
      if (!present.has(task)) {
        this.#unschedulable.remove({ task });
        this.#gaugeTasks.delete(task);
      }
    }
    for (const task of present) {
      // A frozen task places nothing new, so nothing of it is unschedulable.
      this.#unschedulable.set({ task }, status.get(task)?.unschedulable ?? 0);
      this.#gaugeTasks.add(task);
    }
  }

  /** Applies `ops` in fenced txns of at most MAX_TXN_OPS operations each. */
  async #write(session: string, ops: readonly TxnOp[], signal: AbortSignal): Promise<void> {
    const fence: TxnOp = { verb: 'check-session', key: this.#leaderKey, session };
    const chunkSize = MAX_TXN_OPS - 1;
    for (let start = 0; start < ops.length; start += chunkSize) {
      const chunk = ops.slice(start, start + chunkSize);
      const bases = chunk.map((op) => this.#baseIndexOf(op.key));
      try {
        await this.#options.consul.txn.apply([fence, ...chunk], signal);
      } catch (error) {
        if (!(error instanceof TxnRollbackError)) throw error;
        // Deposed, or the leader key changed hands under us: the elector will stop this controller.
        // Not retried here; the next change of any watched key runs the reconcile again.
        this.#log.warn('a fenced scheduler write was rejected; not leading any more, or raced', {
          error: error.message,
        });
        return;
      }
      chunk.forEach((op, i) => {
        this.#pending.set(op.key, {
          baseIndex: bases[i] ?? 0,
          value: op.verb === 'set' && typeof op.value === 'string' ? op.value : undefined,
        });
      });
    }
    this.#log.info('scheduled', { writes: ops.length });
  }

  /** The ModifyIndex the watch shows for a key we write (0: absent), to tell when it has caught up. */
  #baseIndexOf(key: string): number {
    const kind = key.startsWith(this.#prefixes.topology) ? 'topology' : 'status';
    return this.#snapshots.get(kind)?.get(key)?.modifyIndex ?? 0;
  }

  #logOnce(subject: string, message: string, fields: Record<string, unknown>): void {
    const text = `${message}:${JSON.stringify(fields)}`;
    if (this.#logged.get(subject) === text) return;
    this.#logged.set(subject, text);
    this.#log.warn(message, fields);
  }

  #watchOptions(kind: Kind): WatchOptions {
    return {
      ...this.#options.watchOptions,
      onRetry: (error, attempt, delayMs) =>
        this.#log.warn('watching cluster state failed; retrying', {
          prefix: this.#prefixes[kind],
          attempt,
          delayMs,
          error: error instanceof Error ? error.message : String(error),
        }),
    };
  }
}
