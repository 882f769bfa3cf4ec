// What the scheduler records in `cluster/status/<task>`: the placement outcome of a valid task, or why
// a task is frozen. No timestamps, so an unchanged outcome serialises to the same value and writes nothing.
import { isDeepStrictEqual } from 'node:util';
import type { TaskStatusRecord } from '../../api/cluster.js';
import type { TaskStatus, Topology } from './placement.js';

export type { TaskStatusRecord };

/** The record of a valid task, from the placement result. */
export function validTaskStatus(status: TaskStatus): TaskStatusRecord {
  return {
    desired: status.desired,
    scheduled: status.scheduled,
    nodes: [...status.nodes],
    unschedulable: status.unschedulable,
    reasons: [...status.reasons],
  };
}

/**
 * The record of a frozen task: where its replicas stay, and why nothing else happens. `desired` is
 * the replication of its last valid value when this leader saw one, else what is placed.
 */
export function frozenTaskStatus(
  task: string,
  message: string,
  lastReplication: number | undefined,
  topology: Topology,
): TaskStatusRecord {
  const nodes = [...topology]
    .filter(([, placements]) => placements.some((placement) => placement.app === task))
    .map(([node]) => node)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    desired: lastReplication ?? nodes.length,
    scheduled: nodes.length,
    nodes,
    unschedulable: 0,
    reasons: ['the task value is invalid: its placements stay as they are until it is fixed'],
    invalid: message,
  };
}

/** Whether a stored KV value already holds `content` (as JSON, in any key order); unreadable never does. */
export function storedJsonEquals(value: string | null | undefined, content: unknown): boolean {
  if (value === null || value === undefined) return false;
  try {
    return isDeepStrictEqual(JSON.parse(value), content);
  } catch {
    return false;
  }
}
