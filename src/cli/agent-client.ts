// The CLI's client for one agent's REST API: base URL and token from flags or APPMESH_* variables (or,
// for an agent on this host, the token file in its default data dir), errors turned into one readable
// line (the agent's own message and details included).
import { existsSync } from 'node:fs';
import { request } from 'undici';
import { apiTokenPath, defaultDataDir, readTokenFileSync } from '../agent/api-token.js';
import { isLoopbackName } from '../agent/http-guards.js';

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
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#token = agentToken(this.baseUrl, options.tokenFile, env);
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
    if (response.statusCode === 401 && !accept(401)) {
      throw new AgentRequestError(
        `${method} ${path}: 401 the agent at ${this.baseUrl} refused ${this.#token === undefined ? 'the request without a token' : 'the token'}: ${TOKEN_HELP}`,
      );
    }
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

const TOKEN_HELP =
  'pass --agent-token-file FILE or set APPMESH_API_TOKEN_FILE / APPMESH_API_TOKEN (an agent on this host keeps it in <dataDir>/api-token)';

/**
 * The agent's API token, looked up in this order: `--agent-token-file`, $APPMESH_API_TOKEN_FILE,
 * $APPMESH_API_TOKEN, then, only for an agent on a loopback address (this host), the token file in
 * $APPMESH_DATA_DIR or the default data dir. A file named explicitly must hold a token; a default file
 * that is missing or unreadable (another user's agent) just means no token. The local token is never
 * sent to another host.
 */
export function agentToken(
  baseUrl: string,
  tokenFile: string | undefined,
  env: NodeJS.ProcessEnv,
): string | undefined {
  if (tokenFile !== undefined) return readTokenFileSync(tokenFile, '--agent-token-file');
  const fromEnvFile = env['APPMESH_API_TOKEN_FILE'];
  if (fromEnvFile) return readTokenFileSync(fromEnvFile, 'APPMESH_API_TOKEN_FILE');
  const fromEnv = env['APPMESH_API_TOKEN']?.trim();
  if (fromEnv) return fromEnv;
  let host: string;
  try {
    host = new URL(baseUrl).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return undefined;
  }
  if (!isLoopbackName(host)) return undefined;
  const dataDirs = [env['APPMESH_DATA_DIR'], defaultDataDir(env)].filter((d): d is string => !!d);
  for (const dir of dataDirs) {
    const path = apiTokenPath(dir);
    if (!existsSync(path)) continue;
    try {
      return readTokenFileSync(path, 'the agent token file');
    } catch {
      return undefined; // not ours to read: the agent answers 401 and the error says what to pass
    }
  }
  return undefined;
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
