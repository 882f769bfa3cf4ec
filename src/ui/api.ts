// The one door to the agent's REST API: JSON reads, the output tail and mutations, every one carrying
// the API token (the agent requires it for everything the page reads). A 401 asks for the token and
// tries once more. It tells the banner whether the agent answered at all, and turns every failure into
// an error whose message a person can read (never a stack trace or a raw body).

import { isObject, parseJson } from './decode.js';

/** The agent answered with a non-2xx status. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly details: readonly string[] = [],
  ) {
    super(message);
  }
}

/** fetch itself failed: the agent (or the network to it) is down. The banner already says so. */
export class AgentUnreachableError extends Error {}

/** The user closed the token form instead of entering a token. Not worth a message. */
export class CancelledError extends Error {}

export interface Reachability {
  reachable(): void;
  unreachable(): void;
}

export interface TokenSource {
  current(): string | undefined;
  /** Asks the user; resolves undefined when they decline. */
  ask(reason: string): Promise<string | undefined>;
  forget(): void;
}

export interface OutputChunk {
  readonly text: string;
  /** The offset to ask for next (x-output-position); undefined when the agent did not say. */
  readonly position: string | undefined;
  /** True when lines before this chunk were dropped by the agent's buffer. */
  readonly truncated: boolean;
}

export type Mutation = 'enable' | 'disable' | 'restart' | 'delete';

export class AgentClient {
  constructor(
    private readonly reach: Reachability,
    private readonly tokens: TokenSource,
    private readonly origin: string,
    private readonly fetchImpl: typeof fetch = (input, init) => fetch(input, init),
  ) {}

  async getJson<T>(path: string, decode: (json: unknown) => T): Promise<T> {
    const res = await this.sendWithToken(path, 'GET', { accept: 'application/json' });
    if (!res.ok) throw await errorFrom(res);
    return decode(parseJson(await res.text(), path));
  }

  async getOutput(app: string, offset: string | undefined): Promise<OutputChunk> {
    const query = offset === undefined ? '' : `?offset=${encodeURIComponent(offset)}`;
    const res = await this.sendWithToken(`${appPath(app)}/output${query}`, 'GET', { accept: 'text/plain' });
    if (!res.ok) throw await errorFrom(res);
    return {
      text: await res.text(),
      position: res.headers.get('x-output-position') ?? undefined,
      truncated: res.headers.get('x-output-truncated') === 'true',
    };
  }

  /**
   * Changes an app. A token is asked for up front when the agent says it needs one, and again on a
   * 401 (a wrong or stale token), after which the change is tried exactly once more.
   */
  async mutate(app: string, action: Mutation, tokenRequired: boolean): Promise<void> {
    const method = action === 'delete' ? 'DELETE' : 'POST';
    const path = action === 'delete' ? appPath(app) : `${appPath(app)}/${action}`;
    let token = this.tokens.current();
    if (token === undefined && tokenRequired) {
      token = await this.askToken(`Changing apps on this agent needs its API token (to ${action} ${app}).`);
    }
    let res = await this.send(path, { method, headers: authorization(token) });
    if (res.status === 401) {
      this.tokens.forget();
      const refused = await errorFrom(res);
      token = await this.askToken(refused.message);
      res = await this.send(path, { method, headers: authorization(token) });
      if (res.status === 401) this.tokens.forget();
    }
    if (!res.ok) throw await errorFrom(res);
    await res.body?.cancel();
  }

  /** A read with the stored token; a 401 (no or a stale token) asks for it and tries exactly once more. */
  private async sendWithToken(
    path: string,
    method: 'GET',
    headers: Record<string, string>,
  ): Promise<Response> {
    const first = await this.send(path, {
      method,
      headers: { ...headers, ...authorization(this.tokens.current()) },
    });
    if (first.status !== 401) return first;
    this.tokens.forget();
    const refused = await errorFrom(first);
    const token = await this.askToken(refused.message);
    const second = await this.send(path, { method, headers: { ...headers, ...authorization(token) } });
    if (second.status === 401) this.tokens.forget();
    return second;
  }

  private async askToken(reason: string): Promise<string> {
    const token = await this.tokens.ask(reason);
    if (token === undefined) throw new CancelledError('no token entered');
    return token;
  }

  private async send(path: string, init: RequestInit): Promise<Response> {
    let res: Response;
    try {
      res = await this.fetchImpl(path, { cache: 'no-store', ...init });
    } catch {
      this.reach.unreachable();
      throw new AgentUnreachableError(`cannot reach the agent at ${this.origin}`);
    }
    this.reach.reachable();
    return res;
  }
}

export function appPath(app: string): string {
  return `/appmesh/app/${encodeURIComponent(app)}`;
}

function authorization(token: string | undefined): Record<string, string> {
  return token === undefined ? {} : { authorization: `Bearer ${token}` };
}

/** Reads the agent's `{ error, details? }` body; anything else shows its status line and a short excerpt. */
async function errorFrom(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => '');
  try {
    const body: unknown = JSON.parse(text);
    if (isObject(body) && typeof body['error'] === 'string') {
      const details = Array.isArray(body['details'])
        ? body['details'].filter((d): d is string => typeof d === 'string')
        : [];
      return new ApiError(body['error'], res.status, details);
    }
  } catch {
    // Not JSON (a proxy's HTML page, a plain-text 502): fall through to the status line.
  }
  const statusLine = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`;
  const excerpt = text.trim().slice(0, 200);
  return new ApiError(excerpt ? `${statusLine}: ${excerpt}` : statusLine, res.status);
}
