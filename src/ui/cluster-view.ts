// The cluster tab: nodes with their labels and resources, tasks with their replica counts and why
// some cannot be placed, and the nodes × tasks placement matrix. Cluster events are rare, so each
// one rebuilds the three tables from a fragment instead of patching rows.

import type { ClusterNode, ClusterState, ClusterTask } from './decode.js';
import { el } from './dom.js';
import { compareText, formatBytes } from './format.js';

export interface ClusterTables {
  readonly nodes: HTMLTableSectionElement;
  readonly tasks: HTMLTableSectionElement;
  readonly topology: HTMLTableElement;
  readonly topologyEmpty: HTMLElement;
}

export class ClusterView {
  constructor(private readonly tables: ClusterTables) {}

  render(state: ClusterState): void {
    const leader = state.leader ?? state.nodes.find((node) => node.leader)?.name;
    this.tables.nodes.replaceChildren(
      ...byName(state.nodes).map((node) => nodeRow(node, node.name === leader)),
    );
    this.tables.tasks.replaceChildren(...byName(state.tasks).map(taskRow));
    this.renderTopology(state);
  }

  private renderTopology(state: ClusterState): void {
    // Nodes and tasks from all three sources: a placement may name a node or task the other lists
    // do not have yet, and an empty row or column still says "nothing here".
    const nodes = new Set(state.nodes.map((node) => node.name));
    const tasks = new Set(state.tasks.map((task) => task.name));
    for (const [node, placed] of state.topology) {
      nodes.add(node);
      for (const task of placed) tasks.add(task);
    }
    const nodeNames = [...nodes].sort(compareText);
    const taskNames = [...tasks].sort(compareText);
    const head = el(
      'thead',
      {},
      el(
        'tr',
        {},
        el('th', { scope: 'col' }, 'node \\ task'),
        ...taskNames.map((t) => el('th', { scope: 'col' }, t)),
      ),
    );
    const body = el('tbody');
    for (const node of nodeNames) {
      const placed = new Set(state.topology.get(node) ?? []);
      body.append(
        el(
          'tr',
          { 'data-node': node },
          el('th', { scope: 'row' }, node),
          ...taskNames.map((task) =>
            el(
              'td',
              { 'data-node': node, 'data-task': task, class: placed.has(task) ? 'placed' : undefined },
              placed.has(task) ? '●' : '',
            ),
          ),
        ),
      );
    }
    this.tables.topology.replaceChildren(head, body);
    this.tables.topologyEmpty.hidden = nodeNames.length > 0 && taskNames.length > 0;
  }
}

function nodeRow(node: ClusterNode, isLeader: boolean): HTMLTableRowElement {
  const name = el('td', { 'data-field': 'name' }, node.name);
  if (isLeader) name.append(' ', el('span', { class: 'badge leader', title: 'cluster leader' }, '★ leader'));
  const labels = el(
    'td',
    { 'data-field': 'labels' },
    el(
      'div',
      { class: 'labels' },
      ...[...node.labels]
        .sort(([a], [b]) => compareText(a, b))
        .map(([key, value]) => el('span', { class: 'label' }, `${key}=${value}`)),
    ),
  );
  const memory =
    node.memTotalBytes === undefined
      ? ''
      : `${node.memFreeBytes === undefined ? '?' : formatBytes(node.memFreeBytes)} free of ${formatBytes(node.memTotalBytes)}`;
  return el(
    'tr',
    {
      'data-node': node.name,
      'data-leader': isLeader ? 'true' : undefined,
      class: isLeader ? 'leader' : undefined,
    },
    name,
    labels,
    el('td', { 'data-field': 'cpu' }, optional(node.cpuCores)),
    el('td', { 'data-field': 'memory' }, memory),
    el('td', { 'data-field': 'worker' }, node.worker === undefined ? '' : node.worker ? 'yes' : 'no'),
    el('td', { 'data-field': 'apps' }, optional(node.apps)),
    el('td', { 'data-field': 'version' }, node.version ?? ''),
    el('td', { 'data-field': 'url', class: 'url' }, node.url ?? ''),
  );
}

function taskRow(task: ClusterTask): HTMLTableRowElement {
  const short = (task.passing ?? 0) < (task.replication ?? 0);
  const stuck = (task.unschedulable ?? 0) > 0 || task.invalid !== undefined;
  const reasons = el('td', { 'data-field': 'reasons', class: 'reasons' });
  if (task.invalid !== undefined) reasons.append(el('div', { class: 'invalid' }, `invalid: ${task.invalid}`));
  for (const reason of task.reasons) reasons.append(el('div', {}, reason));
  const cls = stuck ? 'stuck' : short ? 'short' : undefined;
  return el(
    'tr',
    { 'data-task': task.name, class: cls },
    el('td', { 'data-field': 'name' }, task.name),
    el('td', { 'data-field': 'desired', class: 'num' }, optional(task.replication)),
    el('td', { 'data-field': 'scheduled', class: 'num' }, optional(task.scheduled)),
    el('td', { 'data-field': 'running', class: 'num' }, optional(task.running)),
    el('td', { 'data-field': 'passing', class: 'num' }, optional(task.passing)),
    el('td', { 'data-field': 'unschedulable', class: 'num' }, optional(task.unschedulable)),
    el('td', { 'data-field': 'nodes' }, [...task.nodes].sort(compareText).join(', ')),
    reasons,
  );
}

function optional(value: number | undefined): string {
  return value === undefined ? '' : String(value);
}

function byName<T extends { readonly name: string }>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => compareText(a.name, b.name));
}
