// The agent's HTTP listener: a small route table over node:http (node:https with TLS) with JSON replies,
// the request guards of http-guards.ts (token, Host, Origin, JSON bodies only), bounded event streams,
// and a bounded, connection-closing shutdown.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { Subscription, type Observable } from 'rxjs';
import {
  bearerToken,
  hostAllowed,
  isJsonContentType,
  jsonDepthOver,
  MAX_JSON_DEPTH,
  originAllowed,
  tokenMatches,
} from './http-guards.js';
import type { Logger } from '../runtime/logger.js';
import type { Runnable } from '../runtime/manager.js';

export interface Reply {
  readonly status: number;
  /** A string is sent as text/plain, a Buffer as is (set its content-type); anything else as JSON. */
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Server-sent events instead of a body: each value is written as `event:`/`data:` (JSON) until the
   * client goes away, the stream completes, or the server stops.
   */
  readonly events?: Observable<ServerEvent>;
}

export interface ServerEvent {
  readonly event: string;
  readonly data: unknown;
  /** `data` already serialized (one JSON text shared by every stream), used instead of `data`. */
  readonly json?: string;
}

/** A comment line on idle event streams, so proxies and browsers keep them open. */
const EVENT_STREAM_KEEPALIVE_MS = 25_000;
/** Concurrent event streams; the next one is answered 503 (a browser tab holds one). */
export const DEFAULT_MAX_EVENT_STREAMS = 32;
/**
 * Bytes queued for one event-stream client beyond what its socket took. A client that lets this much
 * pile up is not reading; it is dropped (a browser reconnects and gets the full state again).
 */
export const DEFAULT_MAX_EVENT_STREAM_BUFFER_BYTES = 1024 * 1024;

export interface RouteRequest {
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  /** The parsed JSON body (undefined when none was sent). */
  readonly body: unknown;
}

export interface Route {
  readonly method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  /** Path with `:param` segments, e.g. `/appmesh/app/:name/output`. */
  readonly path: string;
  /**
   * `token` (the default for everything): needs the API token and passes the Host and Origin checks.
   * `open`: for probes that carry no secret (/healthz, /readyz, /metrics, app health, the page's files).
   */
  readonly access: 'open' | 'token';
  readonly handle: (request: RouteRequest) => Promise<Reply> | Reply;
}

/** A reply for a client mistake; thrown from handlers. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details?: readonly string[],
  ) {
    super(message);
  }
}

interface CompiledRoute extends Route {
  readonly pattern: RegExp;
  readonly names: readonly string[];
}

function compile(route: Route): CompiledRoute {
  const names: string[] = [];
  const source = route.path
    .split('/')
    .map((segment) => {
      if (!segment.startsWith(':')) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(segment.slice(1));
      return '([^/]+)';
    })
    .join('/');
  return { ...route, pattern: new RegExp(`^${source}$`), names };
}

export interface HttpServerOptions {
  readonly host: string;
  readonly port: number;
  readonly routes: readonly Route[];
  /** Required by every `token` route; never empty (the agent generates one when none is configured). */
  readonly apiToken: string;
  /** Host names (besides loopback ones) that requests may be addressed to: the listen and advertise hosts. */
  readonly allowedHosts: readonly string[];
  /** PEM certificate chain and key: serve HTTPS. */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
  readonly maxBodyBytes: number;
  readonly maxEventStreams?: number;
  readonly maxEventStreamBufferBytes?: number;
  readonly logger: Logger;
}

export class HttpServer implements Runnable {
  readonly name = 'http';
  readonly #routes: CompiledRoute[];
  readonly #server: Server;
  /** Open event streams, ended at stop() (they never finish on their own). */
  readonly #streams = new Set<() => void>();
  readonly #allowedHosts: ReadonlySet<string>;
  readonly #scheme: 'http' | 'https';
  #address: { host: string; port: number } | undefined;

  constructor(private readonly options: HttpServerOptions) {
    if (options.apiToken === '') throw new Error('the HTTP server needs a non-empty API token');
    this.#routes = options.routes.map(compile);
    this.#allowedHosts = new Set(options.allowedHosts.map((h) => h.toLowerCase().replace(/^\[|\]$/g, '')));
    this.#scheme = options.tls === undefined ? 'http' : 'https';
    const listener = (req: IncomingMessage, res: ServerResponse) => {
      this.#serve(req, res).catch((err: unknown) => {
        options.logger.error('request failed', { path: req.url, error: (err as Error).message });
        if (!res.headersSent)
          send(res, { status: 500, body: { error: 'internal error; see the agent log' } });
        else res.destroy();
      });
    };
    this.#server =
      options.tls === undefined
        ? createServer(listener)
        : createTlsServer({ cert: options.tls.cert, key: options.tls.key }, listener);
    this.#server.keepAliveTimeout = 5_000;
  }

  /** The bound address (after start; port 0 binds a free port). */
  get address(): { host: string; port: number } {
    if (!this.#address) throw new Error('the HTTP server is not listening yet');
    return this.#address;
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.options.port, this.options.host, () => {
        this.#server.off('error', reject);
        const address = this.#server.address();
        const port = typeof address === 'object' && address ? address.port : this.options.port;
        this.#address = { host: this.options.host, port };
        this.options.logger.info('listening', {
          url: `${this.#scheme}://${formatHost(this.options.host)}:${port}`,
        });
        resolve();
      });
    });
  }

  stop(): Promise<void> {
    for (const end of [...this.#streams]) end();
    return new Promise((resolve) => {
      if (!this.#server.listening) {
        resolve();
        return;
      }
      this.#server.close(() => resolve());
      this.#server.closeIdleConnections();
      // Requests still open (e.g. a client following logs) get a moment, then are cut.
      const cut = setTimeout(() => this.#server.closeAllConnections(), 2_000);
      cut.unref();
      this.#server.once('close', () => clearTimeout(cut));
    });
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://agent');
    const path = decodePath(url.pathname);
    const candidates = this.#routes.filter((r) => r.pattern.test(path));
    const route = candidates.find((r) => r.method === req.method);
    if (!route) {
      req.resume();
      // OPTIONS (a CORS preflight) lands here too: no Access-Control-* header is ever sent, so a
      // browser never lets another site's page call the agent.
      const allow = [...new Set(candidates.map((r) => r.method))].join(', ');
      const reply: Reply =
        candidates.length > 0
          ? {
              status: 405,
              body: {
                error:
                  req.method === 'OPTIONS'
                    ? `OPTIONS is not allowed on ${url.pathname}: the agent grants no cross-origin access`
                    : `${req.method ?? '?'} is not allowed on ${url.pathname}`,
              },
              headers: { allow },
            }
          : { status: 404, body: { error: `no such endpoint: ${url.pathname}` } };
      send(res, reply);
      return;
    }
    const refusal = route.access === 'open' ? undefined : this.#refusal(req);
    if (refusal !== undefined) {
      req.resume();
      send(res, refusal);
      return;
    }
    let body: unknown;
    try {
      body = await readJsonBody(req, this.options.maxBodyBytes);
      const match = route.pattern.exec(path);
      const params = Object.fromEntries(route.names.map((name, i) => [name, match?.[i + 1] ?? '']));
      const reply = await route.handle({ params, query: url.searchParams, body });
      if (reply.events) this.#stream(res, reply.status, reply.events, reply.headers);
      else send(res, reply);
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      send(res, {
        status: err.status,
        body: { error: err.message, ...(err.details ? { details: err.details } : {}) },
      });
    }
  }

  #stream(
    res: ServerResponse,
    status: number,
    events: Observable<ServerEvent>,
    headers: Readonly<Record<string, string>> = {},
  ): void {
    const maxStreams = this.options.maxEventStreams ?? DEFAULT_MAX_EVENT_STREAMS;
    if (this.#streams.size >= maxStreams) {
      send(res, {
        status: 503,
        body: { error: `this agent already serves ${maxStreams} event streams; try again later` },
        headers: { 'retry-after': '5' },
      });
      return;
    }
    const maxBuffered = this.options.maxEventStreamBufferBytes ?? DEFAULT_MAX_EVENT_STREAM_BUFFER_BYTES;
    res.writeHead(status, {
      ...headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
    });
    // `retry`: how soon a browser's EventSource reconnects after the agent restarts.
    res.write(': appmesh events\nretry: 2000\n\n');
    // Owns the events subscription; added to below, so an end before that still unsubscribes it.
    const subscription = new Subscription();
    let ended = false;
    // Every write is checked against the bound: what a client does not read piles up in this process
    // (writableLength counts the socket's queue too), so one that never reads is cut off.
    const write = (text: string) => {
      if (ended) return;
      res.write(text);
      if (res.writableLength > maxBuffered) {
        this.options.logger.warn('dropped an event-stream client that does not read', {
          queuedBytes: res.writableLength,
          limitBytes: maxBuffered,
        });
        end();
        res.destroy();
      }
    };
    const keepalive = setInterval(() => write(': keepalive\n\n'), EVENT_STREAM_KEEPALIVE_MS);
    const end = () => {
      if (ended) return;
      ended = true;
      clearInterval(keepalive);
      subscription.unsubscribe();
      this.#streams.delete(end);
      if (!res.writableEnded) res.end();
    };
    this.#streams.add(end);
    res.once('close', end);
    subscription.add(
      events.subscribe({
        next: ({ event, data, json }) => write(`event: ${event}\ndata: ${json ?? JSON.stringify(data)}\n\n`),
        error: end,
        complete: end,
      }),
    );
  }

  /** Why a `token` route's request is refused (Host, then Origin, then the token), or undefined. */
  #refusal(req: IncomingMessage): Reply | undefined {
    const host = req.headers.host;
    if (!hostAllowed(host, this.#allowedHosts)) {
      return {
        status: 421,
        body: {
          error: `this agent does not answer to the host name ${JSON.stringify(host)}: use a loopback address or its listen/advertise host (a page of another site pointing its name here is refused)`,
        },
      };
    }
    const origin = req.headers.origin;
    if (!originAllowed(origin, host, this.#scheme)) {
      return {
        status: 403,
        body: {
          error: `cross-origin request refused: Origin ${JSON.stringify(origin)} is not this agent's own (${this.#scheme}://${host ?? '?'})`,
        },
      };
    }
    if (!tokenMatches(bearerToken(req.headers.authorization), this.options.apiToken)) {
      return {
        status: 401,
        body: {
          error:
            'this needs the API token: send Authorization: Bearer <token> (it is in <dataDir>/api-token unless apiToken/apiTokenFile set one)',
        },
        headers: { 'www-authenticate': 'Bearer' },
      };
    }
    return undefined;
  }
}

function decodePath(pathname: string): string {
  try {
    return decodeURIComponent(pathname);
  } catch {
    return pathname;
  }
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * The JSON body, or undefined when none was sent. A body must say `Content-Type: application/json`,
 * and a PUT or POST that names another type is refused even when empty: text/plain, forms and
 * multipart are what a page of another site can send without asking (415, nothing parsed).
 */
async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const type = req.headers['content-type'];
  const declared = Number(req.headers['content-length'] ?? 0);
  const hasBody = declared > 0 || req.headers['transfer-encoding'] !== undefined;
  const json = isJsonContentType(type);
  if (!json && (hasBody || (type !== undefined && (req.method === 'PUT' || req.method === 'POST')))) {
    req.resume();
    throw new HttpError(
      415,
      `request bodies must be JSON: send Content-Type: application/json (got ${type === undefined ? 'none' : JSON.stringify(type)})`,
    );
  }
  if (declared > limit) {
    req.resume();
    throw new HttpError(413, `request body of ${declared} bytes is over the ${limit}-byte limit`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > limit) {
      req.resume();
      throw new HttpError(413, `request body is over the ${limit}-byte limit`);
    }
    chunks.push(buffer);
  }
  if (size === 0) return undefined;
  if (!json) {
    throw new HttpError(415, 'request bodies must be JSON: send Content-Type: application/json (got none)');
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (jsonDepthOver(text, MAX_JSON_DEPTH)) {
    throw new HttpError(400, `request body nests arrays/objects more than ${MAX_JSON_DEPTH} deep`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new HttpError(400, `request body is not valid JSON: ${(err as Error).message}`);
  }
}

function send(res: ServerResponse, reply: Reply): void {
  const headers: Record<string, string> = { ...reply.headers };
  let payload: string | Buffer = '';
  if (Buffer.isBuffer(reply.body)) {
    payload = reply.body;
  } else if (reply.body !== undefined) {
    if (typeof reply.body === 'string') {
      payload = reply.body;
      headers['content-type'] ??= 'text/plain; charset=utf-8';
    } else {
      payload = `${JSON.stringify(reply.body)}\n`;
      headers['content-type'] ??= 'application/json';
    }
  }
  headers['content-length'] = String(Buffer.byteLength(payload));
  res.writeHead(reply.status, headers);
  res.end(payload);
}
