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

/** A node's capacity as reported to the scheduler; memory is rounded (see host facts) so it rarely churns. */
export const NodeResource = t.type(
  { cpu_cores: t.number, mem_total_bytes: t.number, mem_free_bytes: t.number },
  'NodeResource',
);
export type NodeResource = t.TypeOf<typeof NodeResource>;

/**
 * `appmesh/cluster/nodes/<node>`, acquired with the node's session, so it vanishes when the node dies.
 * Extra fields (as App Mesh writes them) are tolerated; `apps` is a summary the scheduler does not interpret.
 */
export const NodeReport = t.type(
  {
    /** The agent's advertised URL. */
    appmesh: t.string,
    label: t.record(t.string, t.string),
    leader: t.boolean,
    resource: NodeResource,
    apps: t.record(t.string, t.unknown),
    version: t.string,
  },
  'NodeReport',
);
export type NodeReport = t.TypeOf<typeof NodeReport>;
