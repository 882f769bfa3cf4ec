// The local Consul agent: identity, service registration and TTL check updates.
import {
  AgentChecksWire,
  AgentSelfWire,
  AgentServicesWire,
  type AgentCheckWire,
  type AgentServiceWire,
} from '../../api/consul.js';
import type { ConsulClient } from './client.js';

export interface ServiceCheck {
  readonly id: string;
  readonly name: string;
  /** An HTTP check: Consul GETs this URL every `interval`. */
  readonly http?: string;
  /** A TCP check: Consul connects to this `host:port` every `interval`. */
  readonly tcp?: string;
  /** A TTL check: we report pass/warn/fail before `ttl` runs out. */
  readonly ttl?: string;
  readonly interval?: string;
  readonly timeout?: string;
  /** Status until the first run, e.g. `passing` so a fresh session can name the check at once. */
  readonly initialStatus?: 'passing' | 'warning' | 'critical';
  readonly deregisterCriticalServiceAfter?: string;
  readonly tlsSkipVerify?: boolean;
}

export interface ServiceRegistration {
  readonly id: string;
  readonly name: string;
  readonly port?: number;
  readonly address?: string;
  readonly tags?: readonly string[];
  readonly meta?: Readonly<Record<string, string>>;
  readonly checks?: readonly ServiceCheck[];
}

function checkToWire(check: ServiceCheck): Record<string, unknown> {
  return {
    CheckID: check.id,
    Name: check.name,
    ...(check.http !== undefined ? { HTTP: check.http } : {}),
    ...(check.tcp !== undefined ? { TCP: check.tcp } : {}),
    ...(check.ttl !== undefined ? { TTL: check.ttl } : {}),
    ...(check.interval !== undefined ? { Interval: check.interval } : {}),
    ...(check.timeout !== undefined ? { Timeout: check.timeout } : {}),
    ...(check.initialStatus !== undefined ? { Status: check.initialStatus } : {}),
    ...(check.deregisterCriticalServiceAfter !== undefined
      ? { DeregisterCriticalServiceAfter: check.deregisterCriticalServiceAfter }
      : {}),
    ...(check.tlsSkipVerify !== undefined ? { TLSSkipVerify: check.tlsSkipVerify } : {}),
  };
}

export class AgentApi {
  constructor(private readonly client: ConsulClient) {}

  /** The agent's node name and datacenter. */
  async self(signal?: AbortSignal): Promise<{ nodeName: string; datacenter: string }> {
    const self = await this.client.getJson(AgentSelfWire, '/v1/agent/self', '/v1/agent/self', signal);
    return { nodeName: self.Config.NodeName, datacenter: self.Config.Datacenter };
  }

  services(signal?: AbortSignal): Promise<Record<string, AgentServiceWire>> {
    return this.client.getJson(AgentServicesWire, '/v1/agent/services', '/v1/agent/services', signal);
  }

  checks(signal?: AbortSignal): Promise<Record<string, AgentCheckWire>> {
    return this.client.getJson(AgentChecksWire, '/v1/agent/checks', '/v1/agent/checks', signal);
  }

  /** Register (or replace) a service; checks not in `service.checks` are removed. */
  async registerService(service: ServiceRegistration, signal?: AbortSignal): Promise<void> {
    await this.client.request({
      method: 'PUT',
      endpoint: '/v1/agent/service/register',
      path: '/v1/agent/service/register',
      query: { 'replace-existing-checks': true },
      body: {
        ID: service.id,
        Name: service.name,
        ...(service.port !== undefined ? { Port: service.port } : {}),
        ...(service.address !== undefined ? { Address: service.address } : {}),
        ...(service.tags ? { Tags: service.tags } : {}),
        ...(service.meta ? { Meta: service.meta } : {}),
        ...(service.checks ? { Checks: service.checks.map(checkToWire) } : {}),
      },
      signal,
    });
  }

  /** Deregister a service; a service that is already gone is not an error. */
  async deregisterService(id: string, signal?: AbortSignal): Promise<void> {
    await this.client.request({
      method: 'PUT',
      endpoint: '/v1/agent/service/deregister/:id',
      path: `/v1/agent/service/deregister/${encodeURIComponent(id)}`,
      signal,
      passStatuses: [404],
    });
  }

  /** Report a TTL check's state. */
  async updateTtlCheck(
    checkId: string,
    status: 'pass' | 'warn' | 'fail',
    note = '',
    signal?: AbortSignal,
  ): Promise<void> {
    await this.client.request({
      method: 'PUT',
      endpoint: `/v1/agent/check/${status}/:id`,
      path: `/v1/agent/check/${status}/${encodeURIComponent(checkId)}`,
      query: { note: note === '' ? undefined : note },
      signal,
    });
  }
}
