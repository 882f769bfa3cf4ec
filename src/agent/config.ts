// Resolves the agent's settings: the config file, then APPMESH_* variables, then flags; each layer
// decoded at the edge so a bad value names where it came from. Defaults are filled in here, once.
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { readFile } from 'node:fs/promises';
import { isLeft } from 'fp-ts/lib/Either.js';
import { parse as parseYaml } from 'yaml';
import { AgentConfigFile, type LogFormat, type LogLevel } from '../../api/agent-config.js';
import { decode, DecodeError } from '../../api/decode.js';

export interface AgentConfig {
  readonly listenHost: string;
  readonly listenPort: number;
  readonly dataDir: string;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  /** Never logged. */
  readonly apiToken: string | undefined;
  readonly maxBodyBytes: number;
  readonly shutdownTimeoutMs: number;
}

/** Flags as the CLI parsed them (strings; decoded here like every other layer). */
export interface AgentFlags {
  readonly config?: string;
  readonly listen?: string;
  readonly dataDir?: string;
  readonly logLevel?: string;
  readonly logFormat?: string;
  readonly apiTokenFile?: string;
}

const ENV_KEYS: Record<string, keyof AgentConfigFile> = {
  APPMESH_LISTEN: 'listen',
  APPMESH_DATA_DIR: 'dataDir',
  APPMESH_LOG_LEVEL: 'logLevel',
  APPMESH_LOG_FORMAT: 'logFormat',
  APPMESH_API_TOKEN: 'apiToken',
  APPMESH_API_TOKEN_FILE: 'apiTokenFile',
  APPMESH_MAX_BODY_BYTES: 'maxBodyBytes',
  APPMESH_SHUTDOWN_TIMEOUT_SECONDS: 'shutdownTimeoutSeconds',
};
const NUMERIC = new Set<keyof AgentConfigFile>(['maxBodyBytes', 'shutdownTimeoutSeconds']);

export function defaultDataDir(env: NodeJS.ProcessEnv): string {
  if (process.getuid?.() === 0) return '/var/lib/appmesh';
  return join(env['XDG_STATE_HOME'] || join(homedir(), '.local', 'state'), 'appmesh');
}

/** `host:port` → parts; IPv6 hosts in brackets (`[::1]:6060`). */
export function parseListen(listen: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(listen.trim());
  const port = Number(match?.[3]);
  if (!match || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`listen: expected host:port (e.g. 127.0.0.1:6060), got ${JSON.stringify(listen)}`);
  }
  return { host: match[1] ?? (match[2] || '127.0.0.1'), port };
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function decodeLayer(value: unknown, subject: string): AgentConfigFile {
  const result = decode(AgentConfigFile, value, subject);
  if (isLeft(result)) throw result.left;
  return result.right;
}

async function readConfigFile(path: string): Promise<AgentConfigFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`config file ${path} could not be read: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text) ?? {};
  } catch (err) {
    throw new DecodeError(path, [`(root): not valid YAML/JSON (${(err as Error).message.split('\n')[0]})`]);
  }
  return decodeLayer(parsed, path);
}

function envLayer(env: NodeJS.ProcessEnv): AgentConfigFile {
  const raw: Record<string, unknown> = {};
  for (const [name, key] of Object.entries(ENV_KEYS)) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    raw[key] = NUMERIC.has(key) && /^\d+$/.test(value) ? Number(value) : value;
  }
  return decodeLayer(raw, 'environment (APPMESH_*)');
}

function flagLayer(flags: AgentFlags): AgentConfigFile {
  const raw: Record<string, unknown> = {};
  if (flags.listen !== undefined) raw['listen'] = flags.listen;
  if (flags.dataDir !== undefined) raw['dataDir'] = flags.dataDir;
  if (flags.logLevel !== undefined) raw['logLevel'] = flags.logLevel;
  if (flags.logFormat !== undefined) raw['logFormat'] = flags.logFormat;
  if (flags.apiTokenFile !== undefined) raw['apiTokenFile'] = flags.apiTokenFile;
  return decodeLayer(raw, 'flags');
}

export async function loadAgentConfig(
  flags: AgentFlags,
  env: NodeJS.ProcessEnv = process.env,
): Promise<AgentConfig> {
  const file = flags.config ? await readConfigFile(flags.config) : {};
  const merged: AgentConfigFile = { ...file, ...envLayer(env), ...flagLayer(flags) };
  const { host, port } = parseListen(merged.listen ?? '127.0.0.1:6060');

  let apiToken = merged.apiToken;
  if (merged.apiTokenFile !== undefined) {
    try {
      apiToken = (await readFile(merged.apiTokenFile, 'utf8')).trim();
    } catch (err) {
      throw new Error(`apiTokenFile ${merged.apiTokenFile} could not be read: ${(err as Error).message}`);
    }
  }
  if (apiToken === '') apiToken = undefined;
  if (!isLoopback(host) && apiToken === undefined) {
    throw new Error(
      `listen ${host}:${port} is beyond loopback, so an API token is required: set apiTokenFile (or APPMESH_API_TOKEN)`,
    );
  }
  return {
    listenHost: host,
    listenPort: port,
    dataDir: resolve(merged.dataDir ?? defaultDataDir(env)),
    logLevel: merged.logLevel ?? 'info',
    logFormat: merged.logFormat ?? 'auto',
    apiToken,
    maxBodyBytes: merged.maxBodyBytes ?? 1024 * 1024,
    shutdownTimeoutMs: (merged.shutdownTimeoutSeconds ?? 15) * 1000,
  };
}
