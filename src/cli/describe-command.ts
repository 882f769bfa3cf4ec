// `appmesh describe task NAME`: the task's spec, its placements with each replica's state, health, pid
// and restarts, and the scheduler's messages, all read from Consul KV (the node reports). It calls no
// agent: a node chooses the URL it advertises, so the operator's agent token must never go there.
import { stringify as toYaml } from 'yaml';
import type { ClusterState } from './cluster-state.js';
import { readClusterState } from './cluster-state.js';
import { formatAge } from './cluster-output.js';
import { replicaOnNode, taskView } from './cluster-views.js';
import { kvPrefix, withConsul, type GlobalOptions } from './global-options.js';
import { renderTable } from './table.js';
import { TaskNotFoundError } from './task-store.js';

/** The pid and restarts a node reports for one app (agents before they were reported: undefined). */
export function reportedProcess(
  state: ClusterState,
  node: string,
  app: string,
): { pid: number | undefined; restarts: number | undefined } {
  const entry: unknown = state.nodes.get(node)?.apps?.[app];
  if (typeof entry !== 'object' || entry === null) return { pid: undefined, restarts: undefined };
  const number = (field: string): number | undefined => {
    const value: unknown = (entry as Record<string, unknown>)[field];
    return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : undefined;
  };
  return { pid: number('pid'), restarts: number('restarts') };
}

export function describeTaskText(state: ClusterState, name: string, prefix: string, nowMs: number): string {
  const entry = state.tasks.get(name);
  const view = taskView(state, name);
  if (entry === undefined || view === undefined) throw new TaskNotFoundError(name, prefix);
  let spec: unknown = entry.value;
  try {
    spec = JSON.parse(entry.value ?? '');
  } catch {
    // shown raw: the messages below carry the decode problem
  }
  const field = (label: string, value: string) => `${`${label}:`.padEnd(14)}${value}`;
  const lines = [
    field('Name', name),
    field('Key', `${prefix}/cluster/tasks/${name}`),
    field(
      'Replicas',
      `desired ${view.desired}, scheduled ${view.scheduled}, running ${view.running}, passing ${view.passing}, unschedulable ${view.unschedulable}`,
    ),
    field('Port', view.port === undefined ? '-' : String(view.port)),
    field('Memory', view.memoryMB === undefined ? '-' : `${view.memoryMB}Mi`),
    field('Age', `${formatAge(view.scheduledSince, nowMs)} (since its earliest current placement)`),
    'Spec:',
    ...toYaml(spec, { lineWidth: 0 })
      .trimEnd()
      .split('\n')
      .map((line) => `  ${line}`),
  ];

  const placements = [...state.topology].flatMap(([node, entries]) =>
    entries.filter((e) => e.app === name).map((e) => ({ node, scheduledAt: e.schedule_time })),
  );
  placements.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  const notes: string[] = [];
  const rows: string[][] = [];
  for (const placement of placements) {
    const replica = replicaOnNode(state, placement.node, name);
    const report = state.nodes.get(placement.node);
    if (report === undefined) {
      notes.push(
        `${placement.node}: the node has no report (its agent is down); the replica moves when the scheduler sees it`,
      );
    }
    const process = reportedProcess(state, placement.node, name);
    const pid = process.pid === undefined ? '-' : String(process.pid);
    const restarts = process.restarts === undefined ? '-' : String(process.restarts);
    rows.push([
      placement.node,
      formatAge(placement.scheduledAt, nowMs),
      replica?.state ?? 'not reported',
      replica?.health ?? '-',
      pid,
      restarts,
    ]);
  }
  lines.push('Placements:');
  if (rows.length === 0) lines.push('  <none>');
  else
    lines.push(
      ...renderTable(['NODE', 'AGE', 'STATE', 'HEALTH', 'PID', 'RESTARTS'], rows)
        .split('\n')
        .map((line) => `  ${line}`),
    );
  const messages = [...view.messages, ...notes];
  lines.push('Messages:', ...(messages.length === 0 ? ['  <none>'] : messages.map((m) => `  ${m}`)));
  return lines.join('\n');
}

export async function describeTaskCommand(name: string, globals: GlobalOptions): Promise<void> {
  const prefix = kvPrefix(globals);
  const text = await withConsul(globals, async (consul) =>
    describeTaskText(await readClusterState(consul, prefix), name, prefix, Date.now()),
  );
  console.log(text);
}
