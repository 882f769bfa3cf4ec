// The agent's configuration as written in its YAML/JSON file (and mirrored by APPMESH_* variables and
// flags). Unknown fields are errors, so a typo never silently leaves a setting at its default.
import * as t from 'io-ts';
import { Labels } from './cluster.js';
import { NonNegativeInt } from './names.js';
import { strictObject } from './strict.js';

export const LogLevel = t.keyof({ error: null, warn: null, info: null, debug: null }, 'LogLevel');
export type LogLevel = t.TypeOf<typeof LogLevel>;

export const LogFormat = t.keyof({ json: null, text: null, auto: null }, 'LogFormat');
export type LogFormat = t.TypeOf<typeof LogFormat>;

/** Seconds as a number, or a Go-style duration string such as "30s", "1m30s", "500ms". */
export const DurationSetting = t.union([t.number, t.string], 'Duration');

export const ConsulTlsSettings = strictObject(
  'ConsulTls',
  {},
  { caFile: t.string, certFile: t.string, keyFile: t.string, serverName: t.string, verify: t.boolean },
);

/** Cluster mode: present = the agent joins the cluster through this Consul. */
export const ConsulSettings = strictObject(
  'ConsulSettings',
  {},
  {
    /** The local Consul agent, e.g. http://127.0.0.1:8500 (default $CONSUL_HTTP_ADDR or 127.0.0.1:8500). */
    url: t.string,
    token: t.string,
    tokenFile: t.string,
    tls: ConsulTlsSettings,
    /** KV prefix (default "appmesh"). */
    prefix: t.string,
    sessionTTL: DurationSetting,
    lockDelay: DurationSetting,
    livenessCheckInterval: DurationSetting,
    isMainNode: t.boolean,
    isWorkerNode: t.boolean,
    /** The URL other parties reach this agent at (default http://<listen>); its host is the services' address. */
    advertiseUrl: t.string,
    /** Ports for tasks with `dynamicPort: true`, as "from-to" (default "20000-32000"). */
    dynamicPortRange: t.string,
    /** How often the agent's Consul services are checked against its apps (default 30s, at most 30s). */
    serviceResyncInterval: DurationSetting,
    /**
     * Benchmark baseline, not a recommended mode: poll Consul with plain reads this often instead of
     * blocking watches, in every watch the agent makes (default unset = blocking watches). With
     * reportInterval it mimics App Manager's documented defaults (pollInterval "5s", reportInterval "10s").
     */
    pollInterval: DurationSetting,
    /**
     * Benchmark baseline, not a recommended mode: rewrite this node's report at least this often even when
     * it did not change, heartbeat style (default unset = write only when the report changed).
     */
    reportInterval: DurationSetting,
  },
);
export type ConsulSettings = t.TypeOf<typeof ConsulSettings>;

export const NodeSettings = strictObject(
  'NodeSettings',
  {},
  // Bounded as a node report's labels are, so a label the leader would refuse stops the agent at start.
  { name: t.string, labels: Labels },
);

export const AppEnvSettings = strictObject(
  'AppEnvSettings',
  {},
  { allow: t.array(t.string), deny: t.array(t.string) },
);

export const AgentConfigFile = strictObject(
  'AgentConfig',
  {},
  {
    /** `host:port` of the HTTP API (default 127.0.0.1:6060); beyond loopback TLS is required. */
    listen: t.string,
    /** Where local apps, the process ledger and output files live. */
    dataDir: t.string,
    logLevel: LogLevel,
    logFormat: LogFormat,
    /**
     * Bearer token every API call needs (but /healthz, /readyz, /metrics and app health); prefer
     * apiTokenFile so it stays out of the config. Neither set: generated into <dataDir>/api-token.
     */
    apiToken: t.string,
    apiTokenFile: t.string,
    /** PEM certificate chain and key: the API is served over HTTPS (required beyond loopback). */
    tlsCertFile: t.string,
    tlsKeyFile: t.string,
    /** Allow plain HTTP beyond loopback (the token then crosses the network in clear). Default false. */
    insecureListen: t.boolean,
    /** Largest accepted request body (default 1 MiB). */
    maxBodyBytes: NonNegativeInt,
    /** How long shutdown waits for in-flight work (default 15). */
    shutdownTimeoutSeconds: NonNegativeInt,
    consul: ConsulSettings,
    node: NodeSettings,
    /**
     * Which of the agent's own environment variables apps get (globs `*` `?`, case-insensitive). Apps
     * always get PATH, HOME, USER, LOGNAME, SHELL, LANG, LANGUAGE, LC_*, TZ, TMPDIR (when set), plus
     * `allow`; `deny` (default: secret-looking names, see src/process/child-env.ts) wins over both, and the
     * agent's own tokens are never passed. An app's own `env` is not filtered.
     */
    env: AppEnvSettings,
    /** Cap on the sum of every app's output_buffer_bytes (default 512 MiB); an app over it is refused. */
    maxTotalOutputBufferBytes: NonNegativeInt,
  },
);
export type AgentConfigFile = t.TypeOf<typeof AgentConfigFile>;
