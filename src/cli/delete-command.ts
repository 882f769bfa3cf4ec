// `appmesh delete task NAME...` and `appmesh delete -f FILE`: ClusterTasks are deleted from Consul KV with
// check-and-set (a task changed meanwhile is reported, not deleted); Applications on the agent. A
// missing resource is an error unless --ignore-not-found.
import { AgentClient } from './agent-client.js';
import { deleteApplication } from './application-store.js';
import {
  agentClientOptions,
  connectConsul,
  kvPrefix,
  withConsul,
  type GlobalOptions,
} from './global-options.js';
import { loadManifests, resourceName } from './manifests.js';
import { deleteTask, TaskNotFoundError } from './task-store.js';
import type { Consul } from '../consul/consul.js';

export interface DeleteOptions {
  readonly ignoreNotFound: boolean;
}

/** Returns false when any deletion failed (each failure printed on stderr). */
export async function deleteTasksCommand(
  names: readonly string[],
  options: DeleteOptions,
  globals: GlobalOptions,
): Promise<boolean> {
  const prefix = kvPrefix(globals);
  return withConsul(globals, async (consul) => {
    let ok = true;
    for (const name of names) ok = (await deleteOneTask(consul, prefix, name, options)) && ok;
    return ok;
  });
}

async function deleteOneTask(
  consul: Consul,
  prefix: string,
  name: string,
  options: DeleteOptions,
): Promise<boolean> {
  try {
    await deleteTask(consul, prefix, name);
    console.log(`clustertask/${name} deleted`);
    return true;
  } catch (err) {
    if (err instanceof TaskNotFoundError && options.ignoreNotFound) return true;
    console.error(`error: ${(err as Error).message}`);
    return false;
  }
}

export async function deleteFromFilesCommand(
  filename: readonly string[],
  options: DeleteOptions,
  globals: GlobalOptions,
): Promise<boolean> {
  const manifests = await loadManifests(filename);
  const prefix = kvPrefix(globals);
  let consul: Consul | undefined;
  let agent: AgentClient | undefined;
  let ok = true;
  try {
    for (const manifest of manifests) {
      if (manifest.kind === 'ClusterTask') {
        consul ??= connectConsul(globals);
        ok = (await deleteOneTask(consul, prefix, manifest.name, options)) && ok;
        continue;
      }
      agent ??= new AgentClient(agentClientOptions(globals));
      try {
        if (await deleteApplication(agent, manifest.name)) console.log(`${resourceName(manifest)} deleted`);
        else if (!options.ignoreNotFound) {
          console.error(`error: ${resourceName(manifest)} not found on the agent at ${agent.baseUrl}`);
          ok = false;
        }
      } catch (err) {
        console.error(`error: ${resourceName(manifest)}: ${(err as Error).message}`);
        ok = false;
      }
    }
  } finally {
    await consul?.close();
  }
  return ok;
}
