// The flags every command accepts (Consul connection, KV prefix, agent URL, --debug) and how they become
// a Consul connection and agent client settings. Consul's CONSUL_* variables apply underneath the flags.
import { readFileSync } from 'node:fs';
import { Consul } from '../consul/consul.js';
import {
  consulOptionsFromEnv,
  type ConsulConnectionOptions,
  type ConsulTlsOptions,
} from '../consul/options.js';
import type { AgentClientOptions } from './agent-client.js';

export interface GlobalOptions {
  readonly consulAddr?: string;
  readonly token?: string;
  readonly tokenFile?: string;
  readonly caFile?: string;
  readonly clientCert?: string;
  readonly clientKey?: string;
  readonly tlsServerName?: string;
  /** Commander's negated `--no-tls-verify`: true unless that flag was given. */
  readonly tlsVerify?: boolean;
  readonly prefix?: string;
  readonly agent?: string;
  readonly agentTokenFile?: string;
  readonly debug?: boolean;
}

/** Flags first, then CONSUL_* variables, then Consul's defaults, as Consul's own CLI resolves them. */
export function consulConnectionOptions(
  flags: GlobalOptions,
  env: NodeJS.ProcessEnv = process.env,
): ConsulConnectionOptions {
  let token = flags.token;
  if (token === undefined && flags.tokenFile !== undefined) {
    try {
      token = readFileSync(flags.tokenFile, 'utf8').trim();
    } catch (err) {
      throw new Error(`--token-file ${flags.tokenFile} could not be read: ${(err as Error).message}`);
    }
  }
  const tls: { -readonly [K in keyof ConsulTlsOptions]: ConsulTlsOptions[K] } = {};
  if (flags.caFile !== undefined) tls.caFile = flags.caFile;
  if (flags.clientCert !== undefined) tls.certFile = flags.clientCert;
  if (flags.clientKey !== undefined) tls.keyFile = flags.clientKey;
  if (flags.tlsServerName !== undefined) tls.serverName = flags.tlsServerName;
  if (flags.tlsVerify === false) tls.verify = false;
  return consulOptionsFromEnv(env, {
    ...(flags.consulAddr !== undefined ? { address: flags.consulAddr } : {}),
    ...(token !== undefined ? { token } : {}),
    ...(Object.keys(tls).length > 0 ? { tls } : {}),
  });
}

export function connectConsul(flags: GlobalOptions): Consul {
  return Consul.connect(consulConnectionOptions(flags));
}

/** The KV prefix without trailing slashes: the flag, then $APPMESH_CONSUL_PREFIX, then `appmesh`. */
export function kvPrefix(flags: GlobalOptions, env: NodeJS.ProcessEnv = process.env): string {
  return (flags.prefix ?? (env['APPMESH_CONSUL_PREFIX'] || 'appmesh')).replace(/\/+$/, '');
}

export function agentClientOptions(flags: GlobalOptions): AgentClientOptions {
  return {
    ...(flags.agent !== undefined ? { agent: flags.agent } : {}),
    ...(flags.agentTokenFile !== undefined ? { tokenFile: flags.agentTokenFile } : {}),
  };
}

/** Runs `work` with a Consul connection that is closed afterwards, whatever happens. */
export async function withConsul<T>(flags: GlobalOptions, work: (consul: Consul) => Promise<T>): Promise<T> {
  const consul = connectConsul(flags);
  try {
    return await work(consul);
  } finally {
    await consul.close();
  }
}
