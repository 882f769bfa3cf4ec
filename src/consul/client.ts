// The HTTP transport to one Consul agent: an undici connection pool with keep-alive, the ACL token
// header, timeouts sized for blocking queries, typed errors and request metrics.
import { readFileSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { Pool } from 'undici';
import type * as t from 'io-ts';
import { decodeJson } from '../../api/decode.js';
import { isLeft } from 'fp-ts/lib/Either.js';
import {
  ConsulHttpError,
  ConsulPermissionDeniedError,
  ConsulTlsError,
  ConsulUnavailableError,
} from './errors.js';
import type { ConsulMetrics } from './metrics.js';
import { parseConsulAddress, type ConsulConnectionOptions, type ConsulEndpoint } from './options.js';

export type HttpMethod = 'GET' | 'PUT' | 'POST' | 'DELETE';

export interface ConsulRequest {
  readonly method: HttpMethod;
  /** Route template for metrics and messages, e.g. `/v1/kv/:key`. */
  readonly endpoint: string;
  /** The concrete path, already URL-encoded. */
  readonly path: string;
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  /** A string is sent as is; anything else as JSON. */
  readonly body?: unknown;
  readonly signal?: AbortSignal | undefined;
  /** For blocking queries: the `wait` sent, in seconds; timeouts grow to exceed wait * 17/16. */
  readonly blockingWaitSeconds?: number | undefined;
  /** Statuses returned to the caller instead of raised (e.g. 404 for a missing key). */
  readonly passStatuses?: readonly number[];
}

export interface ConsulResponse {
  readonly status: number;
  /** X-Consul-Index, when Consul sent one. */
  readonly index: number | undefined;
  readonly body: string;
}

/** The TLS settings both undici's pool and node:tls accept. */
interface TlsConnectOptions {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly servername?: string;
  readonly rejectUnauthorized: boolean;
}

/** How long a non-blocking call may take before it counts as unavailable. */
const DEFAULT_TIMEOUT_MS = 10_000;
/** Margin on top of wait * 17/16 (Consul adds up to wait/16 of jitter). */
const BLOCKING_MARGIN_MS = 5_000;

export class ConsulClient {
  readonly endpoint: ConsulEndpoint;
  readonly #pool: Pool;
  readonly #token: string | undefined;
  readonly #metrics: ConsulMetrics | undefined;
  readonly #timeoutMs: number;
  /** What the pool's TLS connections use; undefined for http:// and unix://. */
  readonly #tls: TlsConnectOptions | undefined;

  constructor(
    options: ConsulConnectionOptions,
    deps: { readonly metrics?: ConsulMetrics; readonly timeoutMs?: number } = {},
  ) {
    this.endpoint = parseConsulAddress(options.address);
    this.#token = options.token;
    this.#metrics = deps.metrics;
    this.#timeoutMs = deps.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const tls = options.tls;
    this.#tls =
      this.endpoint.secure && !this.endpoint.socketPath
        ? {
            ...(tls?.caFile ? { ca: readFileSync(tls.caFile) } : {}),
            ...(tls?.certFile ? { cert: readFileSync(tls.certFile) } : {}),
            ...(tls?.keyFile ? { key: readFileSync(tls.keyFile) } : {}),
            ...(tls?.serverName ? { servername: tls.serverName } : {}),
            rejectUnauthorized: tls?.verify ?? true,
          }
        : undefined;
    const connect = this.endpoint.socketPath ? { socketPath: this.endpoint.socketPath } : this.#tls;
    this.#pool = new Pool(this.endpoint.origin, {
      keepAliveTimeout: 30_000,
      ...(connect ? { connect } : {}),
    });
  }

  /** Whether a token is configured (the token itself is never exposed). */
  get hasToken(): boolean {
    return this.#token !== undefined;
  }

  async request(req: ConsulRequest): Promise<ConsulResponse> {
    const timeoutMs =
      req.blockingWaitSeconds !== undefined
        ? Math.ceil((req.blockingWaitSeconds * 1000 * 17) / 16) + BLOCKING_MARGIN_MS
        : this.#timeoutMs;
    const headers: Record<string, string> = {};
    if (this.#token !== undefined) headers['x-consul-token'] = this.#token;
    let body: string | null = null;
    if (req.body !== undefined) {
      body = typeof req.body === 'string' ? req.body : JSON.stringify(req.body);
      if (typeof req.body !== 'string') headers['content-type'] = 'application/json';
    }
    const started = performance.now();
    const observe = (code: number) => {
      this.#metrics?.requests.inc({ method: req.method, endpoint: req.endpoint, code: String(code) });
      this.#metrics?.requestDuration.observe(
        { method: req.method, endpoint: req.endpoint },
        (performance.now() - started) / 1000,
      );
    };

    let status: number;
    let text: string;
    let indexHeader: string | string[] | undefined;
    try {
      const response = await this.#pool.request({
        method: req.method,
        path: req.path + queryString(req.query),
        headers,
        body,
        signal: req.signal ?? null,
        // undici's own per-request timers: unlike AbortSignal.timeout they end with the request.
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      status = response.statusCode;
      indexHeader = response.headers['x-consul-index'];
      text = await response.body.text();
    } catch (err) {
      observe(0);
      if (req.signal?.aborted) throw req.signal.reason ?? err;
      const code = errorCode(err);
      const what = `${req.method} ${req.endpoint}`;
      throw (
        tlsError(this.endpoint.display, what, code) ??
        new ConsulUnavailableError(this.endpoint.display, what, code)
      );
    }
    observe(status);

    const index = parseIndex(indexHeader);
    if ((status >= 200 && status < 300) || req.passStatuses?.includes(status))
      return { status, index, body: text };
    const message = text.trim().slice(0, 500);
    if (status === 403) throw new ConsulPermissionDeniedError(req.method, req.endpoint, message);
    throw new ConsulHttpError(status, req.method, req.endpoint, message);
  }

  /** A plain GET whose JSON body is decoded with `codec` (the endpoint template names it in errors). */
  async getJson<A, O>(
    codec: t.Type<A, O, unknown>,
    endpoint: string,
    path: string,
    signal?: AbortSignal,
  ): Promise<A> {
    const response = await this.request({ method: 'GET', endpoint, path, signal });
    return this.decode(codec, response, `GET ${endpoint}`);
  }

  /** Decode a JSON response body with `codec`; a mismatch names the endpoint and field paths. */
  decode<A, O>(codec: t.Type<A, O, unknown>, response: ConsulResponse, endpoint: string): A {
    const result = decodeJson(codec, response.body, `consul ${endpoint} response`);
    if (isLeft(result)) throw result.left;
    return result.right;
  }

  /**
   * One TLS handshake and one request on a fresh connection, to tell a TLS misconfiguration from an
   * outage: rejects with ConsulTlsError only for the former; resolves when Consul answers, is down or
   * does not answer within `timeoutMs`. It bypasses the pool because undici reports a handshake the
   * server aborted after the fact (TLS 1.3, a missing client certificate) only as "other side closed".
   */
  async checkTls(timeoutMs = 3_000): Promise<void> {
    const tls = this.#tls;
    if (tls === undefined) return;
    const { hostname, port } = new URL(this.endpoint.origin);
    const host = hostname.replace(/^\[(.*)\]$/, '$1');
    const failure = await new Promise<ConsulTlsError | undefined>((resolve) => {
      const socket = tlsConnect({ ...tls, host, port: Number(port) });
      const finish = (result: ConsulTlsError | undefined) => {
        clearTimeout(timer);
        socket.destroy();
        resolve(result);
      };
      const timer = setTimeout(() => finish(undefined), timeoutMs);
      socket.once('secureConnect', () =>
        socket.write(`GET /v1/status/leader HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`),
      );
      socket.once('data', () => finish(undefined));
      socket.once('error', (err) => finish(tlsError(this.endpoint.display, 'TLS handshake', errorCode(err))));
      socket.once('close', () => finish(undefined));
    });
    if (failure !== undefined) throw failure;
  }

  /** Requests queued or running on the pool (a parked blocking query counts). */
  requestsInFlight(): number {
    const stats = this.#pool.stats;
    return stats.running + stats.queued;
  }

  /** Closes the pool; in-flight requests are aborted. */
  async close(): Promise<void> {
    await this.#pool.destroy();
  }
}

function queryString(query: ConsulRequest['query']): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === false) continue;
    // Consul treats flags like `recurse` and `passing` as present-or-absent.
    params.append(key, value === true ? '' : String(value));
  }
  const text = params.toString().replace(/=(&|$)/g, '$1');
  return text === '' ? '' : `?${text}`;
}

function parseIndex(header: string | string[] | undefined): number | undefined {
  const raw = Array.isArray(header) ? header[0] : header;
  if (raw === undefined) return undefined;
  const n = Number(raw);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** Node's codes for a server certificate it does not trust (OpenSSL's X509 names, plus the name check). */
const CERTIFICATE_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
]);
/** TLS alerts a server sends when it refuses our client certificate, or the lack of one. */
const CLIENT_CERTIFICATE_ALERTS = new Set([
  'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN',
  'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE',
  'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
]);

/** A TLS misconfiguration behind `code`, named with what to change; undefined for anything else. */
function tlsError(address: string, endpoint: string, code: string): ConsulTlsError | undefined {
  if (CERTIFICATE_CODES.has(code)) {
    return new ConsulTlsError(
      address,
      endpoint,
      code,
      'TLS certificate verification failed',
      'check CONSUL_CACERT / consul.tls.caFile (--ca-file for the CLI)',
    );
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return new ConsulTlsError(
      address,
      endpoint,
      code,
      'the TLS certificate does not name this host',
      'connect by a name the certificate lists, or set CONSUL_TLS_SERVER_NAME / consul.tls.serverName',
    );
  }
  if (CLIENT_CERTIFICATE_ALERTS.has(code)) {
    return new ConsulTlsError(
      address,
      endpoint,
      code,
      'the server refused the TLS handshake, as it does without a client certificate it trusts',
      'set CONSUL_CLIENT_CERT and CONSUL_CLIENT_KEY / consul.tls.certFile and keyFile',
    );
  }
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER') {
    return new ConsulTlsError(
      address,
      endpoint,
      code,
      'this port does not speak TLS',
      "use an http:// address, or Consul's HTTPS port (ports.https)",
    );
  }
  return undefined;
}

function errorCode(err: unknown): string {
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') {
    return err.code === 'UND_ERR_HEADERS_TIMEOUT' || err.code === 'UND_ERR_BODY_TIMEOUT'
      ? 'timed out'
      : err.code;
  }
  return err instanceof Error ? err.message : 'unknown error';
}
