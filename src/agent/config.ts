// Resolves the agent's settings: the config file, then APPMESH_* variables, then flags; each layer
// decoded at the edge so a bad value names where it came from. Defaults are filled in here, once.
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { readFile } from 'node:fs/promises';
import { isLeft } from 'fp-ts/lib/Either.js';
import {
  AgentConfigFile,
  type ConsulSettings,
  type LogFormat,
  type LogLevel,
} from '../../api/agent-config.js';
import { decode, DecodeError } from '../../api/decode.js';
import { NodeName } from '../../api/names.js';
import { consulOptionsFromEnv, type ConsulConnectionOptions } from '../consul/options.js';
import { parseGoDurationSeconds } from '../consul/session.js';
import { defaultDataDir, readTokenFile } from './api-token.js';

/** Cluster mode settings, resolved; absent in stand-alone mode. */
export interface ClusterConfig {
  readonly consul: ConsulConnectionOptions;
  readonly prefix: string;
  readonly sessionTtlSeconds: number;
  readonly lockDelaySeconds: number;
  /** 0 = no liveness check: only the session TTL (and serfHealth) detect a dead agent. */
  readonly livenessIntervalSeconds: number;
  readonly isMain: boolean;
  readonly isWorker: boolean;
  readonly advertiseUrl: string;
  readonly nodeName: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Ports for tasks with `dynamicPort: true`. */
  readonly dynamicPortRange: { readonly from: number; readonly to: number };
  /** How often the ServiceRegistrar compares the local Consul agent's services with the apps. */
  readonly serviceResyncMs: number;
  /** Benchmark baseline: every watch polls at this interval; undefined = blocking watches. */
  readonly pollIntervalMs: number | undefined;
  /** Benchmark baseline: the node report is rewritten at least this often; undefined = only on change. */
  readonly reportIntervalMs: number | undefined;
}

/** 512 apps at the default 1 MiB each: the most memory an agent spends on apps' output buffers. */
export const DEFAULT_MAX_TOTAL_OUTPUT_BUFFER_BYTES = 512 * 1024 * 1024;

export interface AgentConfig {
  readonly listenHost: string;
  readonly listenPort: number;
  readonly dataDir: string;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  /** Never logged. Undefined: the token generated into (and reused from) `<dataDir>/api-token`. */
  readonly apiToken: string | undefined;
  /** Serve the API over HTTPS with these PEM files. */
  readonly tls: { readonly certFile: string; readonly keyFile: string } | undefined;
  readonly maxBodyBytes: number;
  readonly shutdownTimeoutMs: number;
  readonly cluster: ClusterConfig | undefined;
  /** The agent variables apps may get (see api/agent-config.ts `env`); undefined deny = the default list. */
  readonly appEnv: { readonly allow: readonly string[]; readonly deny: readonly string[] | undefined };
  readonly maxTotalOutputBufferBytes: number;
}

/** Flags as the CLI parsed them (strings; decoded here like every other layer). */
export interface AgentFlags {
  readonly config?: string;
  readonly listen?: string;
  readonly dataDir?: string;
  readonly logLevel?: string;
  readonly logFormat?: string;
  readonly apiTokenFile?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly insecureListen?: boolean;
  readonly consulAddr?: string;
  readonly nodeName?: string;
  /** `key=value`, repeatable. */
  readonly label?: readonly string[];
  readonly main?: boolean;
  readonly worker?: boolean;
  readonly sessionTtl?: string;
  readonly consulToken?: string;
  readonly consulTokenFile?: string;
  readonly consulPrefix?: string;
  readonly consulTls?: {
    readonly caFile?: string;
    readonly certFile?: string;
    readonly keyFile?: string;
    readonly serverName?: string;
    readonly verify?: boolean;
  };
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
  APPMESH_TLS_CERT_FILE: 'tlsCertFile',
  APPMESH_TLS_KEY_FILE: 'tlsKeyFile',
  APPMESH_INSECURE_LISTEN: 'insecureListen',
};
/** Cluster settings from the environment, besides Consul's own CONSUL_* variables. */
const ENV_CONSUL_KEYS: Record<string, keyof ConsulSettings> = {
  APPMESH_CONSUL_ADDR: 'url',
  APPMESH_CONSUL_PREFIX: 'prefix',
  APPMESH_SESSION_TTL: 'sessionTTL',
  APPMESH_ADVERTISE_URL: 'advertiseUrl',
  APPMESH_LIVENESS_CHECK_INTERVAL: 'livenessCheckInterval',
  APPMESH_DYNAMIC_PORT_RANGE: 'dynamicPortRange',
  APPMESH_SERVICE_RESYNC_INTERVAL: 'serviceResyncInterval',
  APPMESH_POLL_INTERVAL: 'pollInterval',
  APPMESH_REPORT_INTERVAL: 'reportInterval',
};
const NUMERIC = new Set<keyof AgentConfigFile>(['maxBodyBytes', 'shutdownTimeoutSeconds']);
const BOOLEAN = new Set<keyof AgentConfigFile>(['insecureListen']);

export { defaultDataDir };

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

/**
 * The API's TLS files, both or neither. Beyond loopback the API must be HTTPS (the token would cross
 * the network in clear otherwise) unless `insecureListen` says so; decided here, before anything binds.
 */
export function listenTls(
  merged: Pick<AgentConfigFile, 'tlsCertFile' | 'tlsKeyFile' | 'insecureListen'>,
  host: string,
  port: number,
): { certFile: string; keyFile: string } | undefined {
  const { tlsCertFile: certFile, tlsKeyFile: keyFile } = merged;
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new Error(
      `TLS for the API needs both a certificate and a key: set --tls-cert and --tls-key (tlsCertFile, tlsKeyFile), got only the ${certFile === undefined ? 'key' : 'certificate'}`,
    );
  }
  const tls = certFile !== undefined && keyFile !== undefined ? { certFile, keyFile } : undefined;
  if (tls === undefined && !isLoopback(host) && merged.insecureListen !== true) {
    throw new Error(
      `listen ${host.includes(':') ? `[${host}]` : host}:${port} is beyond loopback, so the API needs TLS: set --tls-cert and --tls-key (tlsCertFile, tlsKeyFile), or --insecure-listen to send the token in clear`,
    );
  }
  return tls;
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
  // Imported here: an agent started without a config file never loads the YAML parser.
  const { parse: parseYaml } = await import('yaml');
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
    raw[key] =
      NUMERIC.has(key) && /^\d+$/.test(value)
        ? Number(value)
        : BOOLEAN.has(key) && /^(true|false|1|0)$/.test(value)
          ? value === 'true' || value === '1'
          : value;
  }
  const consul: Record<string, unknown> = {};
  for (const [name, key] of Object.entries(ENV_CONSUL_KEYS)) {
    const value = env[name];
    if (value !== undefined && value !== '') consul[key] = value;
  }
  if (Object.keys(consul).length > 0) raw['consul'] = consul;
  if (env['APPMESH_NODE_NAME']) raw['node'] = { name: env['APPMESH_NODE_NAME'] };
  return decodeLayer(raw, 'environment (APPMESH_*)');
}

function flagLayer(flags: AgentFlags): AgentConfigFile {
  const raw: Record<string, unknown> = {};
  if (flags.listen !== undefined) raw['listen'] = flags.listen;
  if (flags.dataDir !== undefined) raw['dataDir'] = flags.dataDir;
  if (flags.logLevel !== undefined) raw['logLevel'] = flags.logLevel;
  if (flags.logFormat !== undefined) raw['logFormat'] = flags.logFormat;
  if (flags.apiTokenFile !== undefined) raw['apiTokenFile'] = flags.apiTokenFile;
  if (flags.tlsCert !== undefined) raw['tlsCertFile'] = flags.tlsCert;
  if (flags.tlsKey !== undefined) raw['tlsKeyFile'] = flags.tlsKey;
  if (flags.insecureListen !== undefined) raw['insecureListen'] = flags.insecureListen;
  const consul: Record<string, unknown> = {};
  if (flags.consulAddr !== undefined) consul['url'] = flags.consulAddr;
  if (flags.main !== undefined) consul['isMainNode'] = flags.main;
  if (flags.worker !== undefined) consul['isWorkerNode'] = flags.worker;
  if (flags.sessionTtl !== undefined) consul['sessionTTL'] = flags.sessionTtl;
  if (flags.consulToken !== undefined) consul['token'] = flags.consulToken;
  if (flags.consulTokenFile !== undefined) consul['tokenFile'] = flags.consulTokenFile;
  if (flags.consulPrefix !== undefined) consul['prefix'] = flags.consulPrefix;
  if (flags.consulTls !== undefined) consul['tls'] = flags.consulTls;
  if (Object.keys(consul).length > 0) raw['consul'] = consul;
  const node: Record<string, unknown> = {};
  if (flags.nodeName !== undefined) node['name'] = flags.nodeName;
  if (flags.label !== undefined && flags.label.length > 0) node['labels'] = parseLabels(flags.label);
  if (Object.keys(node).length > 0) raw['node'] = node;
  return decodeLayer(raw, 'flags');
}

function parseLabels(pairs: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new Error(`--label: expected key=value, got ${JSON.stringify(pair)}`);
    labels[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return labels;
}

/** "from-to" -> the range; both ends included, 1 <= from <= to <= 65535. */
export function parsePortRange(text: string): { from: number; to: number } {
  const match = /^\s*(\d{1,5})\s*-\s*(\d{1,5})\s*$/.exec(text);
  const from = Number(match?.[1]);
  const to = Number(match?.[2]);
  if (!match || from < 1 || to > 65535 || from > to) {
    throw new Error(
      `consul.dynamicPortRange: expected "from-to" with 1 <= from <= to <= 65535 (e.g. "20000-32000"), got ${JSON.stringify(text)}`,
    );
  }
  return { from, to };
}

function seconds(value: number | string | undefined, fallback: number, field: string): number {
  if (value === undefined) return fallback;
  const parsed = typeof value === 'number' ? value : parseGoDurationSeconds(value.trim());
  if (parsed === undefined || !Number.isFinite(parsed) || parsed < 0) {
    throw new Error(
      `consul.${field}: expected seconds or a duration like "30s", got ${JSON.stringify(value)}`,
    );
  }
  return parsed;
}

/** An optional interval that, when set, must be more than 0 (a 0 s poll or heartbeat would spin). */
function optionalIntervalMs(value: number | string | undefined, field: string): number | undefined {
  if (value === undefined) return undefined;
  const parsed = seconds(value, 0, field);
  if (parsed <= 0) {
    throw new Error(
      `consul.${field}: expected more than 0s (or leave it unset), got ${JSON.stringify(value)}`,
    );
  }
  return parsed * 1000;
}

async function resolveCluster(
  merged: AgentConfigFile,
  env: NodeJS.ProcessEnv,
  listen: { host: string; port: number; scheme: 'http' | 'https' },
): Promise<ClusterConfig | undefined> {
  const settings = merged.consul;
  if (settings === undefined) return undefined;
  let token = settings.token;
  if (settings.tokenFile !== undefined) {
    try {
      token = (await readFile(settings.tokenFile, 'utf8')).trim();
    } catch (err) {
      throw new Error(`consul.tokenFile ${settings.tokenFile} could not be read: ${(err as Error).message}`);
    }
  }
  const consul = consulOptionsFromEnv(env, {
    ...(settings.url !== undefined ? { address: settings.url } : {}),
    ...(token !== undefined && token !== '' ? { token } : {}),
    ...(settings.tls !== undefined ? { tls: settings.tls } : {}),
  });
  const nodeName = merged.node?.name ?? hostname().split('.')[0] ?? 'localhost';
  if (!NodeName.is(nodeName)) {
    throw new Error(
      `node.name: ${JSON.stringify(nodeName)} must be 1-128 of A-Z a-z 0-9 _ . - and not . or .. (set --node-name)`,
    );
  }
  const sessionTtlSeconds = seconds(settings.sessionTTL, 30, 'sessionTTL');
  if (sessionTtlSeconds < 10 || sessionTtlSeconds > 86_400) {
    throw new Error(`consul.sessionTTL: Consul accepts 10s..86400s, got ${sessionTtlSeconds}s`);
  }
  const serviceResyncSeconds = seconds(settings.serviceResyncInterval, 30, 'serviceResyncInterval');
  if (serviceResyncSeconds <= 0 || serviceResyncSeconds > 30) {
    throw new Error(
      `consul.serviceResyncInterval: expected more than 0s and at most 30s (leftover services must go soon), got ${serviceResyncSeconds}s`,
    );
  }
  const pollIntervalMs = optionalIntervalMs(settings.pollInterval, 'pollInterval');
  const reportIntervalMs = optionalIntervalMs(settings.reportInterval, 'reportInterval');
  const advertiseHost =
    isLoopback(listen.host) || listen.host === '0.0.0.0' || listen.host === '::' ? '127.0.0.1' : listen.host;
  return {
    consul,
    prefix: (settings.prefix ?? 'appmesh').replace(/\/+$/, ''),
    sessionTtlSeconds,
    lockDelaySeconds: seconds(settings.lockDelay, 0, 'lockDelay'),
    livenessIntervalSeconds: seconds(settings.livenessCheckInterval, 1, 'livenessCheckInterval'),
    isMain: settings.isMainNode ?? true,
    isWorker: settings.isWorkerNode ?? true,
    advertiseUrl:
      settings.advertiseUrl ??
      `${listen.scheme}://${advertiseHost.includes(':') ? `[${advertiseHost}]` : advertiseHost}:${listen.port}`,
    nodeName,
    labels: merged.node?.labels ?? {},
    dynamicPortRange: parsePortRange(settings.dynamicPortRange ?? '20000-32000'),
    serviceResyncMs: serviceResyncSeconds * 1000,
    pollIntervalMs,
    reportIntervalMs,
  };
}

export async function loadAgentConfig(
  flags: AgentFlags,
  env: NodeJS.ProcessEnv = process.env,
): Promise<AgentConfig> {
  const file = flags.config ? await readConfigFile(flags.config) : {};
  const fromEnv = envLayer(env);
  const fromFlags = flagLayer(flags);
  // Nested sections merge field by field, so a flag overrides one Consul setting, not the whole block.
  const mergeSection = <K extends 'consul' | 'node'>(key: K) => {
    const parts = [file[key], fromEnv[key], fromFlags[key]].filter((p) => p !== undefined);
    if (parts.length === 0) return {};
    const section = Object.assign({}, ...parts) as Record<string, unknown>;
    // One level deeper too: a --ca-file flag must not drop the file's client certificate settings.
    const tlsParts = parts.map((p) => (p as { tls?: object }).tls).filter((t) => t !== undefined);
    if (tlsParts.length > 0) section['tls'] = Object.assign({}, ...tlsParts) as object;
    return { [key]: section as NonNullable<AgentConfigFile[K]> };
  };
  const merged: AgentConfigFile = {
    ...file,
    ...fromEnv,
    ...fromFlags,
    ...mergeSection('consul'),
    ...mergeSection('node'),
  };
  const { host, port } = parseListen(merged.listen ?? '127.0.0.1:6060');

  // An empty token must never mean "no authentication": it is an error naming where it came from.
  if (merged.apiToken !== undefined && merged.apiToken.trim() === '') {
    throw new Error('apiToken is empty: set a token, or leave it out to use the generated one');
  }
  const apiToken =
    merged.apiTokenFile !== undefined
      ? await readTokenFile(merged.apiTokenFile, 'apiTokenFile')
      : merged.apiToken?.trim();
  const tls = listenTls(merged, host, port);
  return {
    listenHost: host,
    listenPort: port,
    dataDir: resolve(merged.dataDir ?? defaultDataDir(env)),
    logLevel: merged.logLevel ?? 'info',
    logFormat: merged.logFormat ?? 'auto',
    apiToken,
    tls,
    maxBodyBytes: merged.maxBodyBytes ?? 1024 * 1024,
    appEnv: { allow: merged.env?.allow ?? [], deny: merged.env?.deny },
    maxTotalOutputBufferBytes: merged.maxTotalOutputBufferBytes ?? DEFAULT_MAX_TOTAL_OUTPUT_BUFFER_BYTES,
    shutdownTimeoutMs: (merged.shutdownTimeoutSeconds ?? 15) * 1000,
    cluster: await resolveCluster(merged, env, { host, port, scheme: tls === undefined ? 'http' : 'https' }),
  };
}
