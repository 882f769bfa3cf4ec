// `appmesh describe task NAME`: the task's spec, its placements with each replica's state and health
// (from the node reports) and pid and restarts (from the node's agent REST API, when it answers), and
// the scheduler's messages.
import { stringify as toYaml } from 'yaml';
import { AgentClient, appPath } from './agent-client.js';
import type { ClusterState } from './cluster-state.js';
import { readClusterState } from './cluster-state.js';
import { formatAge } from './cluster-output.js';
import { replicaOnNode, taskView } from './cluster-views.js';
import { kvPrefix, withConsul, type GlobalOptions } from './global-options.js';
import { renderTable } from './table.js';
import { TaskNotFoundError } from './task-store.js';

/** What a node's agent says about one replica, or why it could not be asked. */
export type ReplicaProcess =
  { readonly pid: number | undefined; readonly restarts: number } | { readonly unreachable: string };

export type ProcessLookup = (agentUrl: string, task: string) => Promise<ReplicaProcess>;

/** Asks the node's agent; an agent that does not answer within a few seconds is "unreachable". */
export function agentProcessLookup(agentTokenFile: string | undefined): ProcessLookup {
  return async (agentUrl, task) => {
    try {
      const client = new AgentClient({
        agent: agentUrl,
        timeoutMs: 3000,
        ...(agentTokenFile !== undefined ? { tokenFile: agentTokenFile } : {}),
      });
      const app = await client.json<{ pid?: number; starts?: number }>('GET', appPath(task));
      return { pid: app.pid, restarts: Math.max(0, (app.starts ?? 0) - 1) };
    } catch (err) {
      return { unreachable: (err as Error).message.split('\n')[0] ?? 'no answer' };
    }
  };
}

export async function describeTaskText(
  state: ClusterState,
  name: string,
  prefix: string,
  lookup: ProcessLookup,
  nowMs: number,
): Promise<string> {
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
    let pid = '-';
    let restarts = '-';
    if (report === undefined) {
      notes.push(
        `${placement.node}: the node has no report (its agent is down); the replica moves when the scheduler sees it`,
      );
    } else {
      const process = await lookup(report.appmesh, name);
      if ('unreachable' in process) {
        pid = 'unreachable';
        notes.push(`${placement.node}: pid and restarts unknown: ${process.unreachable}`);
      } else {
        pid = process.pid === undefined ? '-' : String(process.pid);
        restarts = String(process.restarts);
      }
    }
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
    describeTaskText(
      await readClusterState(consul, prefix),
      name,
      prefix,
      agentProcessLookup(globals.agentTokenFile),
      Date.now(),
    ),
  );
  console.log(text);
}
