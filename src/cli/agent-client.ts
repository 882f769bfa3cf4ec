// The CLI's client for one agent's REST API: base URL and token from flags or APPMESH_* variables,
// errors turned into one readable line (the agent's own message and details included).
import { readFileSync } from 'node:fs';
import { request } from 'undici';

export interface AgentClientOptions {
  readonly agent?: string;
  readonly tokenFile?: string;
  /** How long to wait for an answer (default 30 s). */
  readonly timeoutMs?: number;
}

export interface AgentResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
}

export class AgentRequestError extends Error {}

export class AgentClient {
  readonly baseUrl: string;
  readonly #token: string | undefined;
  readonly #timeoutMs: number;

  constructor(options: AgentClientOptions, env: NodeJS.ProcessEnv = process.env) {
    this.baseUrl = (options.agent ?? env['APPMESH_AGENT_URL'] ?? 'http://127.0.0.1:6060').replace(/\/+$/, '');
    const tokenFile = options.tokenFile ?? env['APPMESH_API_TOKEN_FILE'];
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#token = tokenFile ? readFileSync(tokenFile, 'utf8').trim() : env['APPMESH_API_TOKEN'] || undefined;
  }

  /** Sends a request; any status outside `accept` (default 2xx) raises AgentRequestError. */
  async call(
    method: 'GET' | 'PUT' | 'POST' | 'DELETE',
    path: string,
    body?: unknown,
    accept: (status: number) => boolean = (s) => s >= 200 && s < 300,
  ): Promise<AgentResponse> {
    const headers: Record<string, string> = {};
    if (this.#token !== undefined) headers['authorization'] = `Bearer ${this.#token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response;
    try {
      response = await request(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? null : JSON.stringify(body),
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
      });
    } catch (err) {
      const code = (err as { code?: string }).code ?? (err as Error).message;
      throw new AgentRequestError(
        `the agent at ${this.baseUrl} did not answer (${code}); is \`appmesh agent\` running?`,
      );
    }
    const text = await response.body.text();
    if (!accept(response.statusCode)) {
      throw new AgentRequestError(`${method} ${path}: ${response.statusCode} ${describeError(text)}`);
    }
    return { status: response.statusCode, headers: response.headers, text };
  }

  async json<T>(method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
    const response = await this.call(method, path, body);
    return JSON.parse(response.text) as T;
  }
}

function describeError(text: string): string {
  try {
    const parsed = JSON.parse(text) as { error?: string; details?: string[] };
    return [parsed.error ?? text.trim(), ...(parsed.details ?? []).map((d) => `  ${d}`)].join('\n');
  } catch {
    return text.trim();
  }
}

export function appPath(name: string, action = ''): string {
  return `/appmesh/app/${encodeURIComponent(name)}${action ? `/${action}` : ''}`;
}
