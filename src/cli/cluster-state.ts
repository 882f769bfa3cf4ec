// The cluster as the CLI sees it: every key under `<prefix>/cluster/` read in one list (or one watch) and
// decoded into tasks, task statuses, node reports, topology and the leader. A value that does not
// decode is kept as a problem to show, never a crash: the CLI is how operators find such values.
import { isLeft } from 'fp-ts/lib/Either.js';
import { map, type Observable } from 'rxjs';
import type { KvEntry } from '../../api/consul.js';
import {
  decodeClusterTaskJson,
  LeaderRecord,
  NodeReport,
  NodeTopology,
  TaskStatusRecord,
  type ClusterTaskSpec,
} from '../../api/cluster.js';
import { decodeJson } from '../../api/decode.js';
import type { Consul } from '../consul/consul.js';
import { watchPrefix, type WatchOptions } from '../consul/watch.js';

export interface TaskEntry {
  readonly name: string;
  /** The raw KV value. */
  readonly value: string | null;
  readonly modifyIndex: number;
  /** Set when the value decodes. */
  readonly spec?: ClusterTaskSpec;
  /** The decode message when it does not. */
  readonly problem?: string;
}

export interface ClusterState {
  readonly tasks: ReadonlyMap<string, TaskEntry>;
  readonly statuses: ReadonlyMap<string, TaskStatusRecord>;
  readonly nodes: ReadonlyMap<string, NodeReport>;
  readonly topology: ReadonlyMap<string, NodeTopology>;
  /** The node holding the leader key, when one does. */
  readonly leader: string | undefined;
  /** Values that did not decode, one line each (`<key>: <problem>`). */
  readonly problems: readonly string[];
}

/** Builds the state from the entries under `<prefix>/cluster/`. Pure, so output can be golden-tested. */
export function clusterStateFromEntries(prefix: string, entries: Iterable<KvEntry>): ClusterState {
  const tasks = new Map<string, TaskEntry>();
  const statuses = new Map<string, TaskStatusRecord>();
  const nodes = new Map<string, NodeReport>();
  const topology = new Map<string, NodeTopology>();
  const problems: string[] = [];
  let leader: string | undefined;
  const root = `${prefix}/cluster/`;
  for (const entry of entries) {
    if (!entry.key.startsWith(root)) continue;
    const rest = entry.key.slice(root.length);
    const slash = rest.indexOf('/');
    const kind = slash < 0 ? rest : rest.slice(0, slash);
    const name = slash < 0 ? '' : rest.slice(slash + 1);
    const text = entry.value ?? '';
    if (kind === 'tasks' && name !== '') {
      const decoded = decodeClusterTaskJson(entry.value, name, `task "${name}"`);
      tasks.set(name, {
        name,
        value: entry.value,
        modifyIndex: entry.modifyIndex,
        ...(isLeft(decoded) ? { problem: decoded.left.message } : { spec: decoded.right.task }),
      });
    } else if (kind === 'status' && name !== '') {
      keep(decodeJson(TaskStatusRecord, text, entry.key), (status) => statuses.set(name, status));
    } else if (kind === 'nodes' && name !== '') {
      keep(decodeJson(NodeReport, text, entry.key), (report) => nodes.set(name, report));
    } else if (kind === 'topology' && name !== '') {
      keep(decodeJson(NodeTopology, text, entry.key), (placements) => topology.set(name, placements));
    } else if (kind === 'leader' && entry.session !== undefined) {
      // Without a session the key is a leftover: nobody leads.
      keep(decodeJson(LeaderRecord, text, entry.key), (record) => (leader = record.node));
    }
  }
  return { tasks, statuses, nodes, topology, leader, problems };

  function keep<A>(result: ReturnType<typeof decodeJson<A, unknown>>, use: (value: A) => void): void {
    if (isLeft(result)) problems.push(...result.left.message.split('\n'));
    else use(result.right);
  }
}

export function clusterRoot(prefix: string): string {
  return `${prefix}/cluster/`;
}

export async function readClusterState(consul: Consul, prefix: string): Promise<ClusterState> {
  const listed = await consul.kv.list(clusterRoot(prefix));
  return clusterStateFromEntries(prefix, listed.value);
}

/** The state again whenever anything under `<prefix>/cluster/` changes (one blocking-query watch). */
export function watchClusterState(
  consul: Consul,
  prefix: string,
  options: WatchOptions = {},
): Observable<ClusterState> {
  return watchPrefix(consul, clusterRoot(prefix), options).snapshots.pipe(
    map((entries) => clusterStateFromEntries(prefix, entries.values())),
  );
}
