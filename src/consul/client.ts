// The HTTP transport to one Consul agent: an undici connection pool with keep-alive, the ACL token
// header, timeouts sized for blocking queries, typed errors and request metrics.
import { readFileSync } from 'node:fs';
import { Pool } from 'undici';
import type * as t from 'io-ts';
import { decodeJson } from '../../api/decode.js';
import { isLeft } from 'fp-ts/lib/Either.js';
import { ConsulHttpError, ConsulPermissionDeniedError, ConsulUnavailableError } from './errors.js';
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

  constructor(
    options: ConsulConnectionOptions,
    deps: { readonly metrics?: ConsulMetrics; readonly timeoutMs?: number } = {},
  ) {
    this.endpoint = parseConsulAddress(options.address);
    this.#token = options.token;
    this.#metrics = deps.metrics;
    this.#timeoutMs = deps.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const tls = options.tls;
    const connect = this.endpoint.socketPath
      ? { socketPath: this.endpoint.socketPath }
      : this.endpoint.secure && tls
        ? {
            ...(tls.caFile ? { ca: readFileSync(tls.caFile) } : {}),
            ...(tls.certFile ? { cert: readFileSync(tls.certFile) } : {}),
            ...(tls.keyFile ? { key: readFileSync(tls.keyFile) } : {}),
            ...(tls.serverName ? { servername: tls.serverName } : {}),
            rejectUnauthorized: tls.verify ?? true,
          }
        : undefined;
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
      throw new ConsulUnavailableError(
        this.endpoint.display,
        `${req.method} ${req.endpoint}`,
        errorCode(err),
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

function errorCode(err: unknown): string {
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') {
    return err.code === 'UND_ERR_HEADERS_TIMEOUT' || err.code === 'UND_ERR_BODY_TIMEOUT'
      ? 'timed out'
      : err.code;
  }
  return err instanceof Error ? err.message : 'unknown error';
}
