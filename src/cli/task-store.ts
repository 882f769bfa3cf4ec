// Writing ClusterTasks to Consul KV the safe way: every create, update and delete is a check-and-set
// against the index that was read, so a concurrent change is detected and reported, never overwritten.
import type { KvEntry } from '../../api/consul.js';
import { storedJsonEquals } from '../../controllers/scheduler/task-status.js';
import type { Consul } from '../consul/consul.js';
import { CasConflictError } from '../consul/errors.js';

export type ApplyOutcome = 'created' | 'configured' | 'unchanged';

export function taskKey(prefix: string, name: string): string {
  return `${prefix}/cluster/tasks/${name}`;
}

/** Another writer changed (or deleted) the task between this command's read and its write. */
export class ConcurrentChangeError extends Error {
  override readonly name = 'ConcurrentChangeError';
  constructor(
    readonly task: string,
    readonly current: KvEntry | undefined,
  ) {
    super(
      current === undefined
        ? `clustertask/${task} was deleted by another writer while this command ran; nothing was written: run it again`
        : `clustertask/${task} was changed by another writer while this command ran (now at index ${current.modifyIndex}); nothing was overwritten: run \`appmesh diff\` to see the change, then apply again`,
    );
  }
}

export class TaskNotFoundError extends Error {
  override readonly name = 'TaskNotFoundError';
  constructor(task: string, prefix: string) {
    super(
      `clustertask/${task} not found (no key ${taskKey(prefix, task)}); \`appmesh get tasks\` lists them`,
    );
  }
}

export interface TaskWriteHooks {
  /** Runs between the read and the check-and-set write; tests use it to race another writer. */
  readonly beforeWrite?: () => Promise<void>;
}

/** What apply would do to the task, from the live value. */
export function planApply(current: KvEntry | undefined, spec: unknown): ApplyOutcome {
  if (current === undefined) return 'created';
  return storedJsonEquals(current.value, spec) ? 'unchanged' : 'configured';
}

/** Reads the task; with `write`, creates or updates it with check-and-set. */
export async function applyTask(
  consul: Consul,
  prefix: string,
  name: string,
  spec: unknown,
  write: boolean,
  hooks: TaskWriteHooks = {},
): Promise<ApplyOutcome> {
  const key = taskKey(prefix, name);
  const current = (await consul.kv.get(key, { consistent: true })).value;
  const outcome = planApply(current, spec);
  if (!write || outcome === 'unchanged') return outcome;
  await hooks.beforeWrite?.();
  try {
    await consul.kv.put(key, JSON.stringify(spec, null, 2), { cas: current?.modifyIndex ?? 0 });
  } catch (err) {
    if (!(err instanceof CasConflictError)) throw err;
    throw new ConcurrentChangeError(name, (await consul.kv.get(key, { consistent: true })).value);
  }
  return outcome;
}

/** Deletes the task if it still holds what was read; a missing task is a TaskNotFoundError. */
export async function deleteTask(
  consul: Consul,
  prefix: string,
  name: string,
  hooks: TaskWriteHooks = {},
): Promise<void> {
  const key = taskKey(prefix, name);
  const current = (await consul.kv.get(key, { consistent: true })).value;
  if (current === undefined) throw new TaskNotFoundError(name, prefix);
  await hooks.beforeWrite?.();
  try {
    await consul.kv.delete(key, { cas: current.modifyIndex });
  } catch (err) {
    if (!(err instanceof CasConflictError)) throw err;
    throw new ConcurrentChangeError(name, (await consul.kv.get(key, { consistent: true })).value);
  }
}
