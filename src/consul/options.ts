// Connection settings for Consul, from explicit options and Consul's standard CONSUL_* variables,
// read the way Consul's own CLI reads them.
import { readFileSync } from 'node:fs';

export interface ConsulTlsOptions {
  readonly caFile?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
  readonly serverName?: string;
  /** Verify the server certificate (default true). */
  readonly verify?: boolean;
}

export interface ConsulConnectionOptions {
  /** `http://host:port`, `https://host:port`, `unix:///path` or `host:port`. */
  readonly address: string;
  readonly token?: string;
  readonly tls?: ConsulTlsOptions;
}

/** A parsed, ready-to-dial address. */
export interface ConsulEndpoint {
  /** The origin undici dials (for unix sockets a placeholder host). */
  readonly origin: string;
  readonly socketPath?: string;
  readonly secure: boolean;
  /** What messages show: the address as the user gave it (never with credentials). */
  readonly display: string;
}

const DEFAULT_ADDRESS = '127.0.0.1:8500';

function truthy(value: string | undefined): boolean | undefined {
  if (value === undefined || value === '') return undefined;
  const v = value.trim().toLowerCase();
  if (['1', 't', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'f', 'false', 'no', 'off'].includes(v)) return false;
  throw new Error(`expected a boolean (true/false/1/0), got ${JSON.stringify(value)}`);
}

/** Parse `address` into what undici needs; `useSsl` forces https for a scheme-less address. */
export function parseConsulAddress(address: string, useSsl = false): ConsulEndpoint {
  const raw = address.trim();
  if (raw.startsWith('unix://')) {
    const socketPath = raw.slice('unix://'.length);
    if (socketPath === '') throw new Error(`consul address ${JSON.stringify(address)} names no socket path`);
    return { origin: 'http://localhost', socketPath, secure: false, display: raw };
  }
  const withScheme = /^[a-z]+:\/\//i.test(raw) ? raw : `${useSsl ? 'https' : 'http'}://${raw}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new Error(`consul address ${JSON.stringify(address)} is not a valid http(s):// or unix:// address`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`consul address ${JSON.stringify(address)} has unsupported scheme ${url.protocol}`);
  }
  const secure = url.protocol === 'https:';
  const port = url.port || (secure ? '443' : '80');
  const origin = `${url.protocol}//${url.hostname}:${port}`;
  return { origin, secure, display: origin };
}

/**
 * Settings from the environment, as Consul's CLI reads them: CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN,
 * CONSUL_HTTP_TOKEN_FILE, CONSUL_HTTP_SSL, CONSUL_HTTP_SSL_VERIFY, CONSUL_CACERT, CONSUL_CLIENT_CERT,
 * CONSUL_CLIENT_KEY, CONSUL_TLS_SERVER_NAME. Explicit `overrides` win over the environment.
 */
export function consulOptionsFromEnv(
  env: NodeJS.ProcessEnv,
  overrides: Partial<ConsulConnectionOptions> = {},
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): ConsulConnectionOptions {
  const useSsl = truthyNamed(env, 'CONSUL_HTTP_SSL') ?? false;
  let address = overrides.address ?? (env['CONSUL_HTTP_ADDR'] || DEFAULT_ADDRESS);
  if (useSsl && !/^[a-z]+:\/\//i.test(address)) address = `https://${address}`;

  let token = overrides.token ?? (env['CONSUL_HTTP_TOKEN'] || undefined);
  const tokenFile = env['CONSUL_HTTP_TOKEN_FILE'];
  if (token === undefined && tokenFile) {
    try {
      token = readFile(tokenFile).trim();
    } catch (err) {
      throw new Error(`CONSUL_HTTP_TOKEN_FILE ${tokenFile} could not be read: ${(err as Error).message}`);
    }
  }

  const envTls: ConsulTlsOptions = dropUndefined({
    caFile: env['CONSUL_CACERT'] || undefined,
    certFile: env['CONSUL_CLIENT_CERT'] || undefined,
    keyFile: env['CONSUL_CLIENT_KEY'] || undefined,
    serverName: env['CONSUL_TLS_SERVER_NAME'] || undefined,
    verify: truthyNamed(env, 'CONSUL_HTTP_SSL_VERIFY'),
  });
  const tls = { ...envTls, ...overrides.tls };
  return dropUndefined({
    address,
    token: token === '' ? undefined : token,
    tls: Object.keys(tls).length > 0 ? tls : undefined,
  });
}

function truthyNamed(env: NodeJS.ProcessEnv, name: string): boolean | undefined {
  try {
    return truthy(env[name]);
  } catch (err) {
    throw new Error(`${name}: ${(err as Error).message}`);
  }
}

function dropUndefined<T extends object>(value: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]: Exclude<T[K], undefined>;
  };
}
