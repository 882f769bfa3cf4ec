// The agent's configuration as written in its YAML/JSON file (and mirrored by APPMESH_* variables and
// flags). Unknown fields are errors, so a typo never silently leaves a setting at its default.
import * as t from 'io-ts';
import { NonNegativeInt } from './names.js';
import { strictObject } from './strict.js';

export const LogLevel = t.keyof({ error: null, warn: null, info: null, debug: null }, 'LogLevel');
export type LogLevel = t.TypeOf<typeof LogLevel>;

export const LogFormat = t.keyof({ json: null, text: null, auto: null }, 'LogFormat');
export type LogFormat = t.TypeOf<typeof LogFormat>;

export const AgentConfigFile = strictObject(
  'AgentConfig',
  {},
  {
    /** `host:port` of the HTTP API (default 127.0.0.1:6060); beyond loopback an apiToken is required. */
    listen: t.string,
    /** Where local apps, the process ledger and output files live. */
    dataDir: t.string,
    logLevel: LogLevel,
    logFormat: LogFormat,
    /** Bearer token required for mutations; prefer apiTokenFile so it stays out of the config. */
    apiToken: t.string,
    apiTokenFile: t.string,
    /** Largest accepted request body (default 1 MiB). */
    maxBodyBytes: NonNegativeInt,
    /** How long shutdown waits for in-flight work (default 15). */
    shutdownTimeoutSeconds: NonNegativeInt,
  },
);
export type AgentConfigFile = t.TypeOf<typeof AgentConfigFile>;
