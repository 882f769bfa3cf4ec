// The cluster resources stored in Consul KV (App Mesh's Consul-mode layout): tasks, node reports,
// the leader record and per-node topology. See ARCHITECTURE.md for who writes which key.
import * as t from 'io-ts';
import { NodeName, NonNegativeInt, Port, TaskName } from './names.js';

/** The app a task runs. The full App spec lands with the supervisor; these are the fields scheduling needs. */
export const TaskContent = t.intersection([
  t.type({ command: t.string }),
  t.partial({ name: t.string, shell: t.boolean, description: t.string }),
]);
export type TaskContent = t.TypeOf<typeof TaskContent>;

/** `appmesh/cluster/tasks/<task>`. `condition` values are exact strings, globs, or `/regex/`. */
export const ClusterTask = t.intersection(
  [
    t.type({ replication: NonNegativeInt, content: TaskContent }),
    t.partial({ port: Port, memoryMB: NonNegativeInt, condition: t.record(t.string, t.string) }),
  ],
  'ClusterTask',
);
export type ClusterTask = t.TypeOf<typeof ClusterTask>;

/** `appmesh/cluster/leader`, acquired with the leader's session. */
export const LeaderRecord = t.type({ node: NodeName, since: t.string }, 'LeaderRecord');
export type LeaderRecord = t.TypeOf<typeof LeaderRecord>;

/** `appmesh/cluster/topology/<node>`: the tasks placed on that node. */
export const TopologyEntry = t.type({ app: TaskName, schedule_time: t.string });
export type TopologyEntry = t.TypeOf<typeof TopologyEntry>;
export const NodeTopology = t.array(TopologyEntry, 'NodeTopology');
export type NodeTopology = t.TypeOf<typeof NodeTopology>;
