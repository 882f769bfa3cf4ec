// How `get tasks|nodes|topology` print: tables (narrow and wide), JSON and YAML, from the views. Pure
// (the clock is a parameter), so the output is golden-tested.
import { stringify as toYaml } from 'yaml';
import type { NodeView, TaskView, TopologyView } from './cluster-views.js';
import { renderTable, truncate } from './table.js';

export type ClusterOutputFormat = 'table' | 'wide' | 'json' | 'yaml';

/** kubectl's short ages: `42s`, `7m`, `3h`, `12d`; `-` when unknown. */
export function formatAge(sinceIso: string | undefined, nowMs: number): string {
  if (sinceIso === undefined) return '-';
  const since = Date.parse(sinceIso);
  if (Number.isNaN(since)) return '-';
  const seconds = Math.max(0, Math.floor((nowMs - since) / 1000));
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 48 * 3600) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}

/** Bytes as Ki/Mi/Gi with one decimal below 10. */
export function formatBytes(bytes: number): string {
  const units = ['', 'Ki', 'Mi', 'Gi', 'Ti'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const shown = value < 10 && unit > 0 ? value.toFixed(1).replace(/\.0$/, '') : String(Math.round(value));
  return `${shown}${units[unit] ?? ''}`;
}

function pairs(record: Readonly<Record<string, string>>): string {
  const text = Object.entries(record)
    .map(([key, value]) => `${key}=${value}`)
    .join(',');
  return text === '' ? '<none>' : text;
}

function list(values: readonly string[]): string {
  return values.length === 0 ? '<none>' : values.join(',');
}

function structured(value: unknown, format: 'json' | 'yaml'): string {
  return format === 'json' ? JSON.stringify(value, null, 2) : toYaml(value).trimEnd();
}

export function formatTasks(tasks: readonly TaskView[], format: ClusterOutputFormat, nowMs: number): string {
  if (format === 'json' || format === 'yaml') return structured(tasks, format);
  const wide = format === 'wide';
  const header = ['NAME', 'DESIRED', 'SCHEDULED', 'RUNNING', 'PASSING', 'PORT', 'MEMORY', 'NODES', 'AGE'];
  return renderTable(
    wide ? [...header, 'CONDITION', 'COMMAND', 'MESSAGE'] : header,
    tasks.map((task) => {
      const row = [
        task.name,
        String(task.desired),
        String(task.scheduled),
        String(task.running),
        String(task.passing),
        task.port === undefined ? '-' : String(task.port),
        task.memoryMB === undefined ? '-' : `${task.memoryMB}Mi`,
        list(task.nodes),
        formatAge(task.scheduledSince, nowMs),
      ];
      if (!wide) return row;
      return [
        ...row,
        pairs(task.condition),
        truncate(task.command, 40),
        truncate(task.messages[0] ?? '', 60),
      ];
    }),
  );
}

/** Node AGE is always `-`: Consul records no creation time for a key or a session. */
export function formatNodes(nodes: readonly NodeView[], format: ClusterOutputFormat): string {
  if (format === 'json' || format === 'yaml') return structured(nodes, format);
  const wide = format === 'wide';
  const header = ['NAME', 'LEADER', 'LABELS', 'CPU', 'MEMORY', 'APPS', 'AGE'];
  return renderTable(
    wide ? [...header, 'FREE', 'WORKER', 'VERSION', 'URL'] : header,
    nodes.map((node) => {
      const row = [
        node.name,
        node.leader ? 'yes' : 'no',
        wide ? pairs(node.labels) : truncate(pairs(node.labels), 50),
        String(node.cpuCores),
        formatBytes(node.memTotalBytes),
        String(node.apps.length),
        '-',
      ];
      if (!wide) return row;
      return [...row, formatBytes(node.memFreeBytes), node.worker ? 'yes' : 'no', node.version, node.url];
    }),
  );
}

export function formatTopology(
  topology: readonly TopologyView[],
  format: ClusterOutputFormat,
  nowMs: number,
): string {
  if (format === 'json' || format === 'yaml') return structured(topology, format);
  const wide = format === 'wide';
  return renderTable(
    wide ? ['NODE', 'ALIVE', 'APPS'] : ['NODE', 'APPS'],
    topology.map((entry) => {
      const apps = wide
        ? list(entry.apps.map((a) => `${a.app}(${formatAge(a.scheduledAt, nowMs)})`))
        : list(entry.apps.map((a) => a.app));
      return wide ? [entry.node, entry.alive ? 'yes' : 'no', apps] : [entry.node, apps];
    }),
  );
}
