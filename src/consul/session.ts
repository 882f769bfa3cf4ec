// Consul sessions: create (TTL, behavior, lock delay, health checks), renew, destroy, info, list by node.
import { SessionCreatedWire, SessionInfoListWire, type SessionInfoWire } from '../../api/consul.js';
import type { ConsulClient } from './client.js';
import { SessionExpiredError } from './errors.js';

export interface SessionSpec {
  readonly name: string;
  /** Seconds; Consul accepts 10s..86400s. */
  readonly ttlSeconds: number;
  readonly behavior: 'release' | 'delete';
  /** Seconds; always sent, `0s` included, so Consul's 15s default never applies by accident. */
  readonly lockDelaySeconds: number;
  /** Node checks that invalidate the session (default Consul's `serfHealth`). */
  readonly nodeChecks?: readonly string[];
  /** Service check IDs that invalidate the session. */
  readonly serviceChecks?: readonly string[];
  /** The Consul node to bind to (default: the agent's own). */
  readonly node?: string;
}

export interface SessionInfo {
  readonly id: string;
  readonly name: string;
  readonly node: string;
  readonly behavior: string;
  /** TTL as Consul reports it (it may raise what we asked for), in seconds; undefined without TTL. */
  readonly ttlSeconds: number | undefined;
  readonly createIndex: number;
}

/** Parse a Go duration like `30s`, `1m30s`, `1h` into seconds. */
export function parseGoDurationSeconds(text: string): number | undefined {
  if (text === '' || text === '0') return text === '0' ? 0 : undefined;
  const units: Record<string, number> = {
    h: 3600,
    m: 60,
    s: 1,
    ms: 0.001,
    us: 0.000001,
    µs: 0.000001,
    ns: 1e-9,
  };
  let total = 0;
  let consumed = 0;
  for (const match of text.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/g)) {
    const unit = units[match[2] ?? ''];
    if (unit === undefined || match.index !== consumed) return undefined;
    total += Number(match[1]) * unit;
    consumed += match[0].length;
  }
  return consumed === text.length ? total : undefined;
}

function fromWire(s: SessionInfoWire): SessionInfo {
  return {
    id: s.ID,
    name: s.Name ?? '',
    node: s.Node,
    behavior: s.Behavior,
    ttlSeconds: s.TTL ? parseGoDurationSeconds(s.TTL) : undefined,
    createIndex: s.CreateIndex,
  };
}

export class SessionApi {
  constructor(private readonly client: ConsulClient) {}

  async create(spec: SessionSpec, signal?: AbortSignal): Promise<string> {
    const body = {
      Name: spec.name,
      TTL: `${spec.ttlSeconds}s`,
      Behavior: spec.behavior,
      LockDelay: `${spec.lockDelaySeconds}s`,
      ...(spec.nodeChecks ? { NodeChecks: spec.nodeChecks } : {}),
      ...(spec.serviceChecks ? { ServiceChecks: spec.serviceChecks.map((id) => ({ ID: id })) } : {}),
      ...(spec.node ? { Node: spec.node } : {}),
    };
    const response = await this.client.request({
      method: 'PUT',
      endpoint: '/v1/session/create',
      path: '/v1/session/create',
      body,
      signal,
    });
    return this.client.decode(SessionCreatedWire, response, 'PUT /v1/session/create').ID;
  }

  /** Renew; returns the session as Consul now sees it. A session that is gone raises SessionExpiredError. */
  async renew(id: string, signal?: AbortSignal): Promise<SessionInfo> {
    const response = await this.client.request({
      method: 'PUT',
      endpoint: '/v1/session/renew/:id',
      path: `/v1/session/renew/${encodeURIComponent(id)}`,
      signal,
      passStatuses: [404],
    });
    if (response.status === 404) throw new SessionExpiredError(id);
    const [info] = this.client.decode(SessionInfoListWire, response, 'PUT /v1/session/renew/:id');
    if (!info) throw new SessionExpiredError(id);
    return fromWire(info);
  }

  /** Destroy; idempotent (destroying a missing session succeeds). */
  async destroy(id: string, signal?: AbortSignal): Promise<void> {
    await this.client.request({
      method: 'PUT',
      endpoint: '/v1/session/destroy/:id',
      path: `/v1/session/destroy/${encodeURIComponent(id)}`,
      signal,
    });
  }

  async info(id: string, signal?: AbortSignal): Promise<SessionInfo | undefined> {
    const response = await this.client.request({
      method: 'GET',
      endpoint: '/v1/session/info/:id',
      path: `/v1/session/info/${encodeURIComponent(id)}`,
      signal,
      passStatuses: [404],
    });
    if (response.status === 404 || response.body.trim() === 'null') return undefined;
    const [info] = this.client.decode(SessionInfoListWire, response, 'GET /v1/session/info/:id');
    return info ? fromWire(info) : undefined;
  }

  async listForNode(node: string, signal?: AbortSignal): Promise<SessionInfo[]> {
    const response = await this.client.request({
      method: 'GET',
      endpoint: '/v1/session/node/:node',
      path: `/v1/session/node/${encodeURIComponent(node)}`,
      signal,
    });
    if (response.body.trim() === 'null') return [];
    return this.client.decode(SessionInfoListWire, response, 'GET /v1/session/node/:node').map(fromWire);
  }
}
