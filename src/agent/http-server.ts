// The agent's HTTP listener: a small route table over node:http with JSON replies, a body size limit,
// bearer-token checks for mutations, and a bounded, connection-closing shutdown.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { Subscription, type Observable } from 'rxjs';
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
}

/** A comment line on idle event streams, so proxies and browsers keep them open. */
const EVENT_STREAM_KEEPALIVE_MS = 25_000;

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
  /** Mutations need the API token when one is configured. */
  readonly mutation: boolean;
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
  readonly apiToken: string | undefined;
  readonly maxBodyBytes: number;
  readonly logger: Logger;
}

export class HttpServer implements Runnable {
  readonly name = 'http';
  readonly #routes: CompiledRoute[];
  readonly #server: Server;
  /** Open event streams, ended at stop() (they never finish on their own). */
  readonly #streams = new Set<() => void>();
  #address: { host: string; port: number } | undefined;

  constructor(private readonly options: HttpServerOptions) {
    this.#routes = options.routes.map(compile);
    this.#server = createServer((req, res) => {
      this.#serve(req, res).catch((err: unknown) => {
        options.logger.error('request failed', { path: req.url, error: (err as Error).message });
        if (!res.headersSent)
          send(res, { status: 500, body: { error: 'internal error; see the agent log' } });
        else res.destroy();
      });
    });
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
        this.options.logger.info('listening', { url: `http://${formatHost(this.options.host)}:${port}` });
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
      const reply =
        candidates.length > 0
          ? { status: 405, body: { error: `${req.method ?? '?'} is not allowed on ${url.pathname}` } }
          : { status: 404, body: { error: `no such endpoint: ${url.pathname}` } };
      send(res, reply);
      return;
    }
    if (route.mutation && !this.#authorized(req)) {
      req.resume();
      send(res, {
        status: 401,
        body: { error: 'this change needs the API token: send Authorization: Bearer <token>' },
        headers: { 'www-authenticate': 'Bearer' },
      });
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
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), EVENT_STREAM_KEEPALIVE_MS);
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
        next: ({ event, data }) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`),
        error: end,
        complete: end,
      }),
    );
  }

  #authorized(req: IncomingMessage): boolean {
    const token = this.options.apiToken;
    if (token === undefined) return true;
    const header = req.headers.authorization ?? '';
    const given = header.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : '';
    const a = Buffer.from(given);
    const b = Buffer.from(token);
    return a.length === b.length && timingSafeEqual(a, b);
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

async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0);
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
  const text = Buffer.concat(chunks).toString('utf8');
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
