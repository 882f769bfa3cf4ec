// Checks the agent's JSON bodies at the edge of the UI. Inside, the types are trusted; a body that
// does not fit becomes one readable line with a path (`apps[3].name: expected a string, got 42`),
// which the message area shows verbatim.

export class DecodeError extends Error {}

export type JsonObject = Readonly<Record<string, unknown>>;

export interface AgentInfo {
  readonly node: string;
  readonly mode: string;
  readonly version: string;
  readonly tokenRequired: boolean;
  readonly leader: string | undefined;
}

export interface AppStatus {
  readonly name: string;
  readonly owner: string;
  readonly state: string;
  readonly health: string;
  readonly pid: number | undefined;
  readonly port: number | undefined;
  readonly starts: number;
  /** Epoch milliseconds of the last start, when the agent reported a parseable time. */
  readonly lastStartMs: number | undefined;
  /** The whole object as sent, shown as "spec and status" in the detail panel. */
  readonly raw: JsonObject;
}

export interface ClusterNode {
  readonly name: string;
  readonly leader: boolean;
  readonly url: string | undefined;
  readonly labels: ReadonlyMap<string, string>;
  readonly cpuCores: number | undefined;
  readonly memTotalBytes: number | undefined;
  readonly memFreeBytes: number | undefined;
  readonly worker: boolean | undefined;
  readonly version: string | undefined;
  readonly apps: number | undefined;
}

export interface ClusterTask {
  readonly name: string;
  readonly replication: number | undefined;
  readonly scheduled: number | undefined;
  readonly running: number | undefined;
  readonly passing: number | undefined;
  readonly unschedulable: number | undefined;
  readonly nodes: readonly string[];
  readonly reasons: readonly string[];
  readonly invalid: string | undefined;
}

/** Node name → names of the tasks placed on it. */
export type Topology = ReadonlyMap<string, readonly string[]>;

export interface ClusterState {
  readonly nodes: readonly ClusterNode[];
  readonly tasks: readonly ClusterTask[];
  readonly topology: Topology;
  readonly leader: string | undefined;
}

export function decodeAgent(json: unknown): AgentInfo {
  const o = object(json, 'agent');
  return {
    node: string(o, 'node', 'agent'),
    mode: string(o, 'mode', 'agent'),
    version: optString(o, 'version', 'agent') ?? '',
    tokenRequired: optBoolean(o, 'tokenRequired', 'agent') ?? false,
    leader: optString(o, 'leader', 'agent'),
  };
}

export function decodeApps(json: unknown): AppStatus[] {
  return array(json, 'apps').map((item, i) => decodeApp(item, `apps[${i}]`));
}

export function decodeApp(json: unknown, path = 'app'): AppStatus {
  const o = object(json, path);
  const started = optString(o, 'last_start_time', path);
  const startedMs = started === undefined ? NaN : Date.parse(started);
  return {
    name: string(o, 'name', path),
    owner: optString(o, 'owner', path) ?? 'local',
    state: optString(o, 'state', path) ?? '',
    health: optString(o, 'health', path) ?? 'unknown',
    pid: optNumber(o, 'pid', path),
    port: optNumber(o, 'port', path),
    starts: optNumber(o, 'starts', path) ?? 0,
    lastStartMs: Number.isNaN(startedMs) ? undefined : startedMs,
    raw: o,
  };
}

export function decodeNodes(json: unknown): ClusterNode[] {
  return array(json, 'nodes').map((item, i) => {
    const path = `nodes[${i}]`;
    const o = object(item, path);
    const labels = optObject(o, 'labels', path) ?? {};
    const resources = optObject(o, 'resources', path) ?? {};
    return {
      name: string(o, 'name', path),
      leader: optBoolean(o, 'leader', path) ?? false,
      url: optString(o, 'url', path),
      labels: new Map(
        Object.entries(labels)
          .filter(([, value]) => ['string', 'number', 'boolean'].includes(typeof value))
          .map(([key, value]) => [key, String(value)]),
      ),
      cpuCores: optNumber(resources, 'cpu_cores', `${path}.resources`),
      memTotalBytes: optNumber(resources, 'mem_total_bytes', `${path}.resources`),
      memFreeBytes: optNumber(resources, 'mem_free_bytes', `${path}.resources`),
      worker: optBoolean(o, 'worker', path),
      version: optString(o, 'version', path),
      apps: optNumber(o, 'apps', path),
    };
  });
}

export function decodeTasks(json: unknown): ClusterTask[] {
  return array(json, 'tasks').map((item, i) => {
    const path = `tasks[${i}]`;
    const o = object(item, path);
    return {
      name: string(o, 'name', path),
      replication: optNumber(o, 'replication', path),
      scheduled: optNumber(o, 'scheduled', path),
      running: optNumber(o, 'running', path),
      passing: optNumber(o, 'passing', path),
      unschedulable: optNumber(o, 'unschedulable', path),
      nodes: optStrings(o, 'nodes', path),
      reasons: optStrings(o, 'reasons', path),
      invalid: optString(o, 'invalid', path),
    };
  });
}

export function decodeTopology(json: unknown): Topology {
  const o = object(json, 'topology');
  return new Map(Object.keys(o).map((node) => [node, optStrings(o, node, 'topology')]));
}

/** The `cluster` server-sent event: the three cluster bodies plus the current leader. */
export function decodeClusterEvent(json: unknown): ClusterState {
  const o = object(json, 'cluster');
  return {
    nodes: decodeNodes(o['nodes'] ?? []),
    tasks: decodeTasks(o['tasks'] ?? []),
    topology: decodeTopology(o['topology'] ?? {}),
    leader: optString(o, 'leader', 'cluster'),
  };
}

/** Parses a body; a syntax error becomes a DecodeError naming what was being read. */
export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new DecodeError(`${what}: the agent sent something that is not JSON: ${text.slice(0, 80)}`);
  }
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function object(value: unknown, path: string): JsonObject {
  if (!isObject(value)) fail(path, 'an object', value);
  return value;
}

function array(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value)) fail(path, 'an array', value);
  return value;
}

function string(o: JsonObject, key: string, path: string): string {
  const value = o[key];
  if (typeof value !== 'string') fail(`${path}.${key}`, 'a string', value);
  return value;
}

// Absent and null both mean "not reported"; anything else of the wrong type is a contract break.
function optional<T>(o: JsonObject, key: string, path: string, kind: string, test: (v: unknown) => v is T) {
  const value = o[key];
  if (value === undefined || value === null) return undefined;
  if (!test(value)) fail(`${path}.${key}`, kind, value);
  return value;
}

function optString(o: JsonObject, key: string, path: string): string | undefined {
  return optional(o, key, path, 'a string', (v): v is string => typeof v === 'string');
}

function optNumber(o: JsonObject, key: string, path: string): number | undefined {
  return optional(o, key, path, 'a number', (v): v is number => typeof v === 'number');
}

function optBoolean(o: JsonObject, key: string, path: string): boolean | undefined {
  return optional(o, key, path, 'true or false', (v): v is boolean => typeof v === 'boolean');
}

function optObject(o: JsonObject, key: string, path: string): JsonObject | undefined {
  return optional(o, key, path, 'an object', isObject);
}

function optStrings(o: JsonObject, key: string, path: string): string[] {
  const list = optional(o, key, path, 'a list of strings', (v): v is unknown[] => Array.isArray(v)) ?? [];
  return list.map((item, i) => {
    if (typeof item !== 'string') fail(`${path}.${key}[${i}]`, 'a string', item);
    return item;
  });
}

function fail(path: string, expected: string, got: unknown): never {
  throw new DecodeError(`${path}: expected ${expected}, got ${describe(got)}`);
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return JSON.stringify(value).slice(0, 40);
}
