// What `get`, `describe` and `apply --wait` show about tasks and nodes, derived from one ClusterState.
// Running and passing replicas come from the node reports' `apps` map on the nodes in the task's
// status; Consul keeps no creation time, so ages come from topology `schedule_time` or are unknown.
import * as t from 'io-ts';
import type { TaskStatusRecord } from '../../api/cluster.js';
import type { ClusterState } from './cluster-state.js';
import { countReplicas } from '../../controllers/reported-app.js';

export interface TaskView {
  readonly name: string;
  /** The task's replication; the status' `desired` while the task value does not decode. */
  readonly desired: number;
  readonly scheduled: number;
  readonly running: number;
  readonly passing: number;
  readonly port?: number;
  readonly memoryMB?: number;
  readonly condition: Readonly<Record<string, string>>;
  readonly command: string;
  /** Sorted. */
  readonly nodes: readonly string[];
  /** The earliest `schedule_time` of its placements (ISO), when it has any. */
  readonly scheduledSince?: string;
  readonly unschedulable: number;
  /** The scheduler's messages, then the decode problem of an invalid value. */
  readonly messages: readonly string[];
  /** The replication the scheduler's status was written for; absent until it wrote one. */
  readonly observedDesired?: number;
}

export interface NodeView {
  readonly name: string;
  readonly leader: boolean;
  readonly worker: boolean;
  readonly labels: Readonly<Record<string, string>>;
  readonly cpuCores: number;
  readonly memTotalBytes: number;
  readonly memFreeBytes: number;
  /** App names on the node (its report's `apps`), sorted. */
  readonly apps: readonly string[];
  readonly url: string;
  readonly version: string;
}

export interface TopologyView {
  readonly node: string;
  /** Whether the node's report exists (its agent is alive). */
  readonly alive: boolean;
  readonly apps: readonly { readonly app: string; readonly scheduledAt: string }[];
}

/** A node report's summary of one app: `{owner, state, health}` (other shapes count as unknown). */
const AppSummary = t.partial({ owner: t.string, state: t.string, health: t.string });

/** The state and health a node reports for a task's replica, when it reports one. */
export function replicaOnNode(
  state: ClusterState,
  node: string,
  task: string,
): { readonly state: string; readonly health: string } | undefined {
  const summary = state.nodes.get(node)?.apps[task];
  if (!AppSummary.is(summary)) return undefined;
  // A local app of the same name wins a clash on its host; it is not a replica of the task.
  if (summary.owner !== undefined && summary.owner !== 'cluster') return undefined;
  return { state: summary.state ?? 'unknown', health: summary.health ?? 'unknown' };
}

function placementsOf(state: ClusterState, task: string): { node: string; scheduledAt: string }[] {
  const found: { node: string; scheduledAt: string }[] = [];
  for (const [node, entries] of state.topology) {
    for (const entry of entries)
      if (entry.app === task) found.push({ node, scheduledAt: entry.schedule_time });
  }
  return found;
}

function sorted(values: Iterable<string>): string[] {
  return [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

export function taskView(state: ClusterState, name: string): TaskView | undefined {
  const entry = state.tasks.get(name);
  if (entry === undefined) return undefined;
  const status: TaskStatusRecord | undefined = state.statuses.get(name);
  const placements = placementsOf(state, name);
  const nodes = sorted(status?.nodes ?? placements.map((p) => p.node));
  const { running, passing } = countReplicas(nodes.map((node) => state.nodes.get(node)?.apps[name]));
  const since = sorted(placements.map((p) => p.scheduledAt))[0];
  const spec = entry.spec;
  return {
    name,
    desired: spec?.replication ?? status?.desired ?? 0,
    scheduled: status?.scheduled ?? nodes.length,
    running,
    passing,
    ...(spec?.port !== undefined ? { port: spec.port } : {}),
    ...(spec?.memoryMB !== undefined ? { memoryMB: spec.memoryMB } : {}),
    condition: spec?.condition ?? {},
    command: spec?.content.command ?? '',
    nodes,
    ...(since !== undefined ? { scheduledSince: since } : {}),
    unschedulable: status?.unschedulable ?? 0,
    messages: [...(status?.reasons ?? []), ...(entry.problem !== undefined ? entry.problem.split('\n') : [])],
    ...(status !== undefined ? { observedDesired: status.desired } : {}),
  };
}

export function taskViews(state: ClusterState): TaskView[] {
  return sorted(state.tasks.keys()).flatMap((name) => taskView(state, name) ?? []);
}

export function nodeViews(state: ClusterState): NodeView[] {
  return sorted(state.nodes.keys()).flatMap((name) => {
    const report = state.nodes.get(name);
    if (report === undefined) return [];
    return [
      {
        name,
        leader: state.leader === name,
        worker: report.worker !== false,
        labels: report.label,
        cpuCores: report.resource.cpu_cores,
        memTotalBytes: report.resource.mem_total_bytes,
        memFreeBytes: report.resource.mem_free_bytes,
        apps: sorted(Object.keys(report.apps)),
        url: report.appmesh,
        version: report.version,
      },
    ];
  });
}

/** Every node with a topology key or a report, with what is placed on it. */
export function topologyViews(state: ClusterState): TopologyView[] {
  return sorted(new Set([...state.topology.keys(), ...state.nodes.keys()])).map((node) => ({
    node,
    alive: state.nodes.has(node),
    apps: [...(state.topology.get(node) ?? [])]
      .map((entry) => ({ app: entry.app, scheduledAt: entry.schedule_time }))
      .sort((a, b) => (a.app < b.app ? -1 : a.app > b.app ? 1 : 0)),
  }));
}

/** Done: the status is for this replication and every desired replica is placed, running and passing. */
export function taskIsReady(view: TaskView, replication: number): boolean {
  return (
    view.observedDesired === replication &&
    view.scheduled === replication &&
    view.running === replication &&
    view.passing === replication
  );
}
