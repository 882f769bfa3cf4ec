// `appmesh apply -f`: validates every manifest first (any problem: nothing is written), then creates or
// updates each resource (ClusterTasks in Consul KV with check-and-set, Applications on the agent) and
// prints `kind/name created|configured|unchanged`; with --wait, follows the tasks until they are ready.
import { stringify as toYaml } from 'yaml';
import type { Consul } from '../consul/consul.js';
import { AgentClient } from './agent-client.js';
import { applyApplication } from './application-store.js';
import { watchClusterState } from './cluster-state.js';
import { agentClientOptions, connectConsul, kvPrefix, type GlobalOptions } from './global-options.js';
import { loadManifests, resourceName, type ResourceManifest } from './manifests.js';
import { applyTask, type ApplyOutcome, type TaskWriteHooks } from './task-store.js';
import { plainSink, terminalSink, waitForTasks } from './wait-for-tasks.js';

export type DryRun = 'none' | 'client' | 'server';
export type ApplyOutputFormat = 'default' | 'name' | 'json' | 'yaml';

export interface ApplyOptions {
  readonly filename: readonly string[];
  readonly dryRun: DryRun;
  readonly wait: boolean;
  readonly timeoutMs: number;
  readonly output: ApplyOutputFormat;
}

export interface ApplyDeps {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly hooks?: TaskWriteHooks;
}

const defaultDeps: ApplyDeps = {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
};

/** The manifest as `-o json|yaml` shows it: the envelope around what was (or would be) stored. */
function asDocument(manifest: ResourceManifest): Record<string, unknown> {
  return {
    apiVersion: 'appmesh/v1',
    kind: manifest.kind,
    metadata: { name: manifest.name },
    spec: manifest.spec,
  };
}

/** Returns false when any resource failed (the others are still applied: each write is independent). */
export async function applyCommand(
  options: ApplyOptions,
  globals: GlobalOptions,
  deps: ApplyDeps = defaultDeps,
): Promise<boolean> {
  const manifests = await loadManifests(options.filename);
  for (const manifest of manifests) for (const warning of manifest.warnings) deps.err(`warning: ${warning}`);
  const needsConsul = options.dryRun !== 'client' && manifests.some((m) => m.kind === 'ClusterTask');
  const consul = needsConsul ? connectConsul(globals) : undefined;
  try {
    const applied = await applyAll(manifests, options, globals, consul, deps);
    printApplied(
      applied.flatMap((a) => (a.outcome === undefined ? [] : [a.manifest])),
      options.output,
      deps,
    );
    const failed = applied.some((a) => a.outcome === undefined);
    if (failed || !options.wait || options.dryRun !== 'none' || consul === undefined) return !failed;
    const targets = manifests.flatMap((m) =>
      m.kind === 'ClusterTask' ? [{ name: m.name, replication: Number(m.spec['replication']) }] : [],
    );
    if (targets.length === 0) return true;
    const sink = process.stderr.isTTY ? terminalSink(process.stderr) : plainSink(deps.err);
    await waitForTasks(watchClusterState(consul, kvPrefix(globals)), targets, options.timeoutMs, sink);
    return true;
  } finally {
    await consul?.close();
  }
}

interface Applied {
  readonly manifest: ResourceManifest;
  /** Undefined when it failed (the error was printed). */
  readonly outcome: ApplyOutcome | undefined;
}

async function applyAll(
  manifests: readonly ResourceManifest[],
  options: ApplyOptions,
  globals: GlobalOptions,
  consul: Consul | undefined,
  deps: ApplyDeps,
): Promise<Applied[]> {
  const prefix = kvPrefix(globals);
  const write = options.dryRun === 'none';
  const suffix =
    options.dryRun === 'client' ? ' (dry run)' : options.dryRun === 'server' ? ' (server dry run)' : '';
  let agent: AgentClient | undefined;
  const applied: Applied[] = [];
  for (const manifest of manifests) {
    const name = resourceName(manifest);
    if (options.dryRun === 'client') {
      // Client-side: validated locally, nothing read, so whether it would be created or changed is unknown.
      if (options.output === 'default') deps.out(`${name} valid${suffix}`);
      applied.push({ manifest, outcome: 'unchanged' });
      continue;
    }
    try {
      let outcome: ApplyOutcome;
      if (manifest.kind === 'ClusterTask') {
        if (consul === undefined) throw new Error('internal: no Consul connection for a ClusterTask');
        outcome = await applyTask(consul, prefix, manifest.name, manifest.spec, write, deps.hooks);
      } else {
        agent ??= new AgentClient(agentClientOptions(globals));
        outcome = await applyApplication(agent, manifest.name, manifest.spec, write);
      }
      if (options.output === 'default') deps.out(`${name} ${outcome}${suffix}`);
      applied.push({ manifest, outcome });
    } catch (err) {
      deps.err(`error: ${name} (${manifest.source}): ${(err as Error).message}`);
      applied.push({ manifest, outcome: undefined });
    }
  }
  return applied;
}

function printApplied(
  manifests: readonly ResourceManifest[],
  format: ApplyOutputFormat,
  deps: ApplyDeps,
): void {
  if (format === 'name') for (const manifest of manifests) deps.out(resourceName(manifest));
  if (format === 'json' || format === 'yaml') {
    const list = { apiVersion: 'appmesh/v1', kind: 'List', items: manifests.map(asDocument) };
    deps.out(format === 'json' ? JSON.stringify(list, null, 2) : toYaml(list).trimEnd());
  }
}
