// `appmesh diff -f`: a unified diff between what the manifests describe and what is live (the task in
// Consul KV, the app on the agent), as YAML with sorted keys. Returns whether anything differs, which
// the CLI turns into exit 1 (kubectl's convention).
import { createTwoFilesPatch } from 'diff';
import { stringify as toYaml } from 'yaml';
import type { Consul } from '../consul/consul.js';
import { AgentClient } from './agent-client.js';
import { plainSpec, readLiveApp } from './application-store.js';
import { agentClientOptions, connectConsul, kvPrefix, type GlobalOptions } from './global-options.js';
import { loadManifests, resourceName, type ResourceManifest } from './manifests.js';
import { taskKey } from './task-store.js';

/** Objects with their keys sorted at every level, so key order never shows as a difference. */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}

export function renderForDiff(value: unknown): string {
  return value === undefined ? '' : toYaml(sortKeys(value), { lineWidth: 0 });
}

/** The unified diff of one resource, or '' when live and desired agree. */
export function resourceDiff(name: string, live: unknown, desired: unknown): string {
  const before = renderForDiff(live);
  const after = renderForDiff(desired);
  if (before === after) return '';
  return createTwoFilesPatch(`live/${name}`, `manifest/${name}`, before, after, undefined, undefined, {
    context: 3,
  });
}

async function liveValue(
  manifest: ResourceManifest,
  consul: () => Consul,
  agent: () => AgentClient,
  prefix: string,
): Promise<unknown> {
  if (manifest.kind === 'Application') return readLiveApp(agent(), manifest.name);
  const entry = (await consul().kv.get(taskKey(prefix, manifest.name))).value;
  if (entry === undefined) return undefined;
  try {
    return JSON.parse(entry.value ?? '') as unknown;
  } catch {
    return entry.value; // not JSON: the diff shows the raw text against the manifest
  }
}

/** Prints each differing resource's diff; resolves true when any differs. */
export async function diffCommand(
  filename: readonly string[],
  globals: GlobalOptions,
  out: (text: string) => void = (text) => process.stdout.write(text),
): Promise<boolean> {
  const manifests = await loadManifests(filename);
  let consul: Consul | undefined;
  let agent: AgentClient | undefined;
  const prefix = kvPrefix(globals);
  let differs = false;
  try {
    for (const manifest of manifests) {
      const live = await liveValue(
        manifest,
        () => (consul ??= connectConsul(globals)),
        () => (agent ??= new AgentClient(agentClientOptions(globals))),
        prefix,
      );
      const desired = manifest.kind === 'Application' ? plainSpec(manifest.spec) : manifest.spec;
      const patch = resourceDiff(resourceName(manifest), live, desired);
      if (patch === '') continue;
      differs = true;
      out(patch);
    }
  } finally {
    await consul?.close();
  }
  return differs;
}
