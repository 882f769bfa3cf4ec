// Applications (host-local apps) live in one agent's store behind its REST API: read the live spec,
// compare, create or update, delete. The agent's GET adds runtime fields, which are left out here.
import { isDeepStrictEqual } from 'node:util';
import type { AppSpec } from '../../api/app.js';
import { AgentClient, appPath } from './agent-client.js';
import type { ApplyOutcome } from './task-store.js';

/** Fields the agent's GET adds to the spec (its owner and the process status). */
const RUNTIME_FIELDS = new Set([
  'owner',
  'state',
  'pid',
  'starts',
  'last_start_time',
  'last_exit_time',
  'return_code',
  'health',
  'rss_bytes',
  'cpu_seconds',
  'next_start_time',
  'last_error',
]);

/** The app's spec as the agent holds it, or undefined when it has no such app. */
export async function readLiveApp(
  client: AgentClient,
  name: string,
): Promise<Readonly<Record<string, unknown>> | undefined> {
  const response = await client.call(
    'GET',
    appPath(name),
    undefined,
    (s) => s === 404 || (s >= 200 && s < 300),
  );
  if (response.status === 404) return undefined;
  const view = JSON.parse(response.text) as Record<string, unknown>;
  return Object.fromEntries(Object.entries(view).filter(([key]) => !RUNTIME_FIELDS.has(key)));
}

/** The spec as JSON sees it (no undefined fields), so it compares with what the agent returns. */
export function plainSpec(spec: AppSpec): Record<string, unknown> {
  return JSON.parse(JSON.stringify(spec)) as Record<string, unknown>;
}

export async function applyApplication(
  client: AgentClient,
  name: string,
  spec: AppSpec,
  write: boolean,
): Promise<ApplyOutcome> {
  const live = await readLiveApp(client, name);
  if (live !== undefined && isDeepStrictEqual(live, plainSpec(spec))) return 'unchanged';
  if (!write) return live === undefined ? 'created' : 'configured';
  const response = await client.call('PUT', appPath(name), spec);
  return response.status === 201 ? 'created' : 'configured';
}

/** Deletes the app; false when the agent has no such app. */
export async function deleteApplication(client: AgentClient, name: string): Promise<boolean> {
  const response = await client.call(
    'DELETE',
    appPath(name),
    undefined,
    (s) => s === 404 || (s >= 200 && s < 300),
  );
  return response.status !== 404;
}
