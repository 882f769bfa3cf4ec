// ClusterView: the read-only picture of the cluster that the web UI and `GET /appmesh/cluster/*` show
// (nodes, tasks with their placement outcome and how many replicas run and pass, the topology), built
// from blocking watches of the cluster prefixes. The watches run only while someone looks: a request
// keeps them for `idleMs` after it, an event stream for as long as it is open, so an agent nobody asks
// costs Consul nothing extra. Requests are answered from the watches' latest snapshots, never by new
// Consul calls of their own.
import { isLeft } from 'fp-ts/lib/Either.js';
import {
  combineLatest,
  firstValueFrom,
  map,
  shareReplay,
  timeout,
  type Observable,
  type Subscription,
} from 'rxjs';
import { decodeClusterTaskJson, NodeReport, NodeTopology, TaskStatusRecord } from '../../api/cluster.js';
import type { KvEntry } from '../../api/consul.js';
import { decodeJson } from '../../api/decode.js';
import { NodeName, TaskName } from '../../api/names.js';
import { DecodeMemo } from '../core/decode-memo.js';
import type { Consul } from '../consul/consul.js';
import { watchPrefix, type WatchOptions } from '../consul/watch.js';
import { countReplicas } from '../../controllers/reported-app.js';

export interface ClusterNodeView {
  readonly name: string;
  readonly leader: boolean;
  readonly url: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly resources: NodeReport['resource'];
  readonly worker: boolean;
  readonly version: string;
  /** How many apps the node reports (local and cluster). */
  readonly apps: number;
}

export interface ClusterTaskView {
  readonly name: string;
  /** Desired replicas (the last valid value's, for an invalid task whose status says so). */
  readonly replication: number;
  readonly scheduled: number;
  /** Replicas whose node reports them running. */
  readonly running: number;
  /** Running replicas whose node reports them healthy: what their Consul check reads. */
  readonly passing: number;
  readonly nodes: readonly string[];
  readonly unschedulable: number;
  readonly reasons: readonly string[];
  /** Why the task's KV value does not decode (its placements are frozen meanwhile). */
  readonly invalid?: string;
  readonly port?: number;
  readonly memoryMB?: number;
}

export interface ClusterSnapshot {
  readonly nodes: readonly ClusterNodeView[];
  readonly tasks: readonly ClusterTaskView[];
  /** Node -> the tasks placed on it (nodes without a topology key are absent). */
  readonly topology: Readonly<Record<string, readonly string[]>>;
  readonly leader: string | null;
}

export interface ClusterViewOptions {
  readonly consul: Consul;
  readonly prefix: string;
  /** How long the watches outlive the last request (default 5 minutes). */
  readonly idleMs?: number;
  /** How long a request waits for the first snapshot of a cold view (default 10 s). */
  readonly firstSnapshotTimeoutMs?: number;
  readonly watchOptions?: WatchOptions;
}

const DEFAULT_IDLE_MS = 5 * 60_000;
const DEFAULT_FIRST_SNAPSHOT_TIMEOUT_MS = 10_000;

export class ClusterView {
  /** The snapshot on every change, while subscribed (the watches run while anyone subscribes). */
  readonly snapshots: Observable<ClusterSnapshot>;

  readonly #options: ClusterViewOptions;
  readonly #tasksPrefix: string;
  readonly #nodesPrefix: string;
  readonly #topologyPrefix: string;
  readonly #statusPrefix: string;
  readonly #nodes = new DecodeMemo<ReturnType<typeof decodeReport>>();
  readonly #tasks = new DecodeMemo<ReturnType<typeof decodeClusterTaskJson>>();
  readonly #statuses = new DecodeMemo<ReturnType<typeof decodeStatus>>();
  readonly #topology = new DecodeMemo<ReturnType<typeof decodeTopology>>();
  /** Keeps the watches running after a request, until `idleMs` pass without another. */
  #lease: { subscription: Subscription; timer: NodeJS.Timeout } | undefined;

  constructor(options: ClusterViewOptions) {
    this.#options = options;
    const base = `${options.prefix}/cluster`;
    this.#tasksPrefix = `${base}/tasks/`;
    this.#nodesPrefix = `${base}/nodes/`;
    this.#topologyPrefix = `${base}/topology/`;
    this.#statusPrefix = `${base}/status/`;
    const watch = (prefix: string) =>
      watchPrefix(options.consul, prefix, options.watchOptions ?? {}).snapshots;
    this.snapshots = combineLatest([
      watch(this.#tasksPrefix),
      watch(this.#nodesPrefix),
      watch(this.#topologyPrefix),
      watch(this.#statusPrefix),
    ]).pipe(
      map(([tasks, nodes, topology, status]) => this.#build(tasks, nodes, topology, status)),
      shareReplay({ bufferSize: 1, refCount: true }),
    );
  }

  /** The latest snapshot; starts the watches (and waits for their first answers) if they are not running. */
  current(): Promise<ClusterSnapshot> {
    this.#renewLease();
    const wait = this.#options.firstSnapshotTimeoutMs ?? DEFAULT_FIRST_SNAPSHOT_TIMEOUT_MS;
    return firstValueFrom(
      this.snapshots.pipe(
        timeout({
          first: wait,
          with: () => {
            throw new Error(`no answer from Consul about the cluster within ${wait} ms`);
          },
        }),
      ),
    );
  }

  /** Whether a recent request keeps the watches running. */
  get leased(): boolean {
    return this.#lease !== undefined;
  }

  /** Ends the request lease; open event streams end their own subscriptions. */
  stop(): void {
    if (this.#lease === undefined) return;
    clearTimeout(this.#lease.timer);
    this.#lease.subscription.unsubscribe();
    this.#lease = undefined;
  }

  #renewLease(): void {
    const idleMs = this.#options.idleMs ?? DEFAULT_IDLE_MS;
    if (this.#lease !== undefined) {
      this.#lease.timer.refresh();
      return;
    }
    const subscription = this.snapshots.subscribe({ error: () => this.stop() });
    const timer = setTimeout(() => this.stop(), idleMs);
    timer.unref();
    this.#lease = { subscription, timer };
  }

  #build(
    tasks: ReadonlyMap<string, KvEntry>,
    nodes: ReadonlyMap<string, KvEntry>,
    topology: ReadonlyMap<string, KvEntry>,
    status: ReadonlyMap<string, KvEntry>,
  ): ClusterSnapshot {
    const reports = new Map<string, NodeReport>();
    for (const [key, entry] of nodes) {
      const name = key.slice(this.#nodesPrefix.length);
      if (!NodeName.is(name)) continue;
      const decoded = this.#nodes.get(key, entry.value ?? '', (raw) => decodeReport(raw, key));
      if (!isLeft(decoded)) reports.set(name, decoded.right);
    }
    this.#nodes.sweep();
    const nodeViews = [...reports]
      .map(([name, report]) => ({
        name,
        leader: report.leader,
        url: report.appmesh,
        labels: report.label,
        resources: report.resource,
        worker: report.worker ?? true,
        version: report.version,
        apps: Object.keys(report.apps).length,
      }))
      .sort((a, b) => compare(a.name, b.name));

    const placed: Record<string, string[]> = {};
    for (const [key, entry] of topology) {
      const node = key.slice(this.#topologyPrefix.length);
      if (!NodeName.is(node)) continue;
      const decoded = this.#topology.get(key, entry.value ?? '', (raw) => decodeTopology(raw, key));
      if (!isLeft(decoded)) placed[node] = decoded.right.map((p) => p.app).sort(compare);
    }
    this.#topology.sweep();

    const taskViews: ClusterTaskView[] = [];
    for (const [key, entry] of tasks) {
      const name = key.slice(this.#tasksPrefix.length);
      if (!TaskName.is(name)) continue;
      const decoded = this.#tasks.get(key, entry.value ?? '', () =>
        decodeClusterTaskJson(entry.value, name, key),
      );
      const statusKey = this.#statusPrefix + name;
      const statusEntry = status.get(statusKey);
      const recorded =
        statusEntry === undefined
          ? undefined
          : this.#statuses.get(statusKey, statusEntry.value ?? '', (raw) => decodeStatus(raw, statusKey));
      const record = recorded === undefined || isLeft(recorded) ? undefined : recorded.right;
      const task = isLeft(decoded) ? undefined : decoded.right.task;
      const { running, passing } = replicaCounts(name, reports);
      taskViews.push({
        name,
        replication: task?.replication ?? record?.desired ?? 0,
        scheduled: record?.scheduled ?? 0,
        running,
        passing,
        nodes: record?.nodes ?? [],
        unschedulable: record?.unschedulable ?? 0,
        reasons: record?.reasons ?? [],
        ...(isLeft(decoded) ? { invalid: decoded.left.message } : {}),
        ...(task?.port !== undefined ? { port: task.port } : {}),
        ...(task?.memoryMB !== undefined ? { memoryMB: task.memoryMB } : {}),
      });
    }
    this.#tasks.sweep();
    this.#statuses.sweep();
    taskViews.sort((a, b) => compare(a.name, b.name));

    return {
      nodes: nodeViews,
      tasks: taskViews,
      topology: placed,
      leader: nodeViews.find((node) => node.leader)?.name ?? null,
    };
  }
}

const decodeReport = (raw: string, key: string) => decodeJson(NodeReport, raw, key);
const decodeTopology = (raw: string, key: string) => decodeJson(NodeTopology, raw, key);
const decodeStatus = (raw: string, key: string) => decodeJson(TaskStatusRecord, raw, key);

/** Replicas of `task` the node reports list as running, and those of them ready (see countReplicas). */
function replicaCounts(
  task: string,
  reports: ReadonlyMap<string, NodeReport>,
): { running: number; passing: number } {
  return countReplicas([...reports.values()].map((report) => report.apps[task]));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
