// `appmesh get tasks|nodes|topology [NAME]`: one read of `<prefix>/cluster/` rendered as a table, JSON
// or YAML; with --watch, the same rendering again on every change of the cluster watch until Ctrl-C.
import { distinctUntilChanged, map } from 'rxjs';
import { stringify as toYaml } from 'yaml';
import type { ClusterState } from './cluster-state.js';
import { readClusterState, watchClusterState } from './cluster-state.js';
import { formatNodes, formatTasks, formatTopology, type ClusterOutputFormat } from './cluster-output.js';
import { nodeViews, taskViews, topologyViews } from './cluster-views.js';
import { kvPrefix, withConsul, type GlobalOptions } from './global-options.js';
import { untilInterrupted } from './signals.js';

export type ClusterResource = 'tasks' | 'nodes' | 'topology';

export interface GetOptions {
  readonly output: ClusterOutputFormat;
  readonly watch: boolean;
}

const SINGULAR: Record<ClusterResource, string> = {
  tasks: 'clustertask',
  nodes: 'node',
  topology: 'topology',
};

/** The text `get` prints for one state; throws when NAME is given and not there. */
export function renderResource(
  state: ClusterState,
  resource: ClusterResource,
  name: string | undefined,
  format: ClusterOutputFormat,
  nowMs: number,
): string {
  // With NAME: only that one (an object in JSON/YAML, a one-row table), or an error naming it.
  const chosen = <T>(items: T[], nameOf: (item: T) => string): T[] => {
    if (name === undefined) return items;
    const found = items.filter((item) => nameOf(item) === name);
    if (found.length === 0) throw new Error(`${SINGULAR[resource]}/${name} not found`);
    return found;
  };
  const structured = format === 'json' || format === 'yaml';
  const single = name !== undefined && structured;
  if (resource === 'tasks') {
    const views = chosen(taskViews(state), (v) => v.name);
    return single ? formatSingle(views[0], format) : formatTasks(views, format, nowMs);
  }
  if (resource === 'nodes') {
    const views = chosen(nodeViews(state), (v) => v.name);
    return single ? formatSingle(views[0], format) : formatNodes(views, format);
  }
  const views = chosen(topologyViews(state), (v) => v.node);
  return single ? formatSingle(views[0], format) : formatTopology(views, format, nowMs);
}

function formatSingle(value: unknown, format: ClusterOutputFormat): string {
  return format === 'json' ? JSON.stringify(value, null, 2) : toYaml(value).trimEnd();
}

export async function getClusterCommand(
  resource: ClusterResource,
  name: string | undefined,
  options: GetOptions,
  globals: GlobalOptions,
): Promise<void> {
  const prefix = kvPrefix(globals);
  await withConsul(globals, async (consul) => {
    if (!options.watch) {
      console.log(
        renderResource(await readClusterState(consul, prefix), resource, name, options.output, Date.now()),
      );
      return;
    }
    const separator = options.output === 'yaml' ? '---' : '';
    let first = true;
    const stopped = new AbortController();
    const subscription = watchClusterState(consul, prefix)
      .pipe(
        map((state) => renderResource(state, resource, name, options.output, Date.now())),
        distinctUntilChanged(),
      )
      .subscribe({
        next(text) {
          if (!first && separator !== '') console.log(separator);
          else if (!first) console.log('');
          first = false;
          console.log(text);
        },
        error(err: unknown) {
          console.error(`error: ${(err as Error).message}`);
          process.exitCode = 1;
          stopped.abort();
        },
      });
    await untilInterrupted(stopped.signal);
    subscription.unsubscribe();
  });
}
