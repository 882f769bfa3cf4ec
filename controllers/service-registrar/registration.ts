// The pure half of the ServiceRegistrar: which Consul service registration a local app should have (if
// any), whether what the local Consul agent holds still matches it, and an app's peers from a health
// snapshot. No I/O, so every rule here is unit-tested on its own.
import { isDeepStrictEqual } from 'node:util';
import { appDefaults, durationSeconds, type AppSpec } from '../../api/app.js';
import type { AgentServiceWire, HealthServiceEntryWire } from '../../api/consul.js';
import type { ServiceRegistration } from '../../src/consul/agent.js';
import type { AppState } from '../../src/process/index.js';

/** The tag every appmesh-registered service carries, so operators can tell them apart. */
export const SERVICE_TAG = 'appmesh';

/** States in which an app is registered: it runs, is starting, or is between crash-loop restarts. */
const REGISTERED_STATES: ReadonlySet<AppState> = new Set(['starting', 'running', 'backoff']);

export interface ServiceApp {
  readonly name: string;
  readonly spec: AppSpec;
  readonly owner: 'local' | 'cluster';
  /** Undefined until the supervisor has a process for it. */
  readonly state: AppState | undefined;
}

export interface RegistrationContext {
  readonly node: string;
  /** The node's advertised address: what other parties connect to. */
  readonly address: string;
  /** The agent's base URL as the local Consul agent reaches it (for HTTP checks). */
  readonly agentUrl: string;
}

export function serviceIdOf(node: string, app: string): string {
  return `appmesh-${node}-${app}`;
}

/** Consul (Go) duration text for seconds, e.g. 1.5 -> "1.5s". */
export function goDuration(seconds: number): string {
  return `${Number(seconds.toFixed(3))}s`;
}

function seconds(value: number | string | undefined, fallback: number): number {
  return value === undefined ? fallback : (durationSeconds(value) ?? fallback);
}

/** The service name an app registers under: `service.name`, else the app's name. */
export function serviceNameOf(spec: AppSpec): string {
  return spec.service?.name ?? spec.name;
}

/**
 * The registration an app should have now, or undefined for none: no port (port 0 is App Mesh's "no
 * service"), or not in a registered state (stopped, disabled, waiting for its window, parked).
 */
export function registrationFor(
  app: ServiceApp,
  context: RegistrationContext,
): ServiceRegistration | undefined {
  const { spec } = app;
  if (spec.port === undefined || app.state === undefined || !REGISTERED_STATES.has(app.state))
    return undefined;
  const id = serviceIdOf(context.node, app.name);
  const settings = spec.service ?? {};
  const interval = seconds(settings.interval, appDefaults.serviceCheckIntervalSeconds);
  const timeout = seconds(settings.timeout, appDefaults.serviceCheckTimeoutSeconds);
  const deregisterAfter = seconds(
    settings.deregister_critical_after,
    appDefaults.serviceDeregisterCriticalAfterSeconds,
  );
  const probe =
    settings.check === 'tcp'
      ? { tcp: `${context.address}:${spec.port}` }
      : { http: `${context.agentUrl}/appmesh/app/${encodeURIComponent(app.name)}/health` };
  return {
    id,
    name: serviceNameOf(spec),
    address: context.address,
    port: spec.port,
    tags: [SERVICE_TAG, ...(settings.tags ?? []).filter((tag) => tag !== SERVICE_TAG)],
    meta: { appmesh_node: context.node, appmesh_task: app.name, appmesh_owner: app.owner },
    checks: [
      {
        id: `${id}-health`,
        name: `appmesh app ${app.name} health`,
        ...probe,
        interval: goDuration(interval),
        timeout: goDuration(timeout),
        deregisterCriticalServiceAfter: goDuration(deregisterAfter),
      },
    ],
  };
}

/** True when a service in the local Consul agent is one this node registered. */
export function isOwnService(service: AgentServiceWire, node: string): boolean {
  return service.Meta?.appmesh_node === node;
}

/**
 * Whether the local Consul agent's copy still matches what we want. Check definitions are not part of
 * `/v1/agent/services`; the registrar remembers what it wrote for those.
 */
export function agentHolds(service: AgentServiceWire | undefined, wanted: ServiceRegistration): boolean {
  if (service === undefined) return false;
  return (
    service.Service === wanted.name &&
    service.Port === wanted.port &&
    service.Address === wanted.address &&
    isDeepStrictEqual(service.Tags ?? [], wanted.tags ?? []) &&
    isDeepStrictEqual(service.Meta ?? {}, wanted.meta ?? {})
  );
}

/**
 * The other passing instances of `app` (same service, same task; never `ownId`) as sorted `host:port`.
 * An instance without its own address is reached at its node's.
 */
export function peersOf(entries: readonly HealthServiceEntryWire[], app: string, ownId: string): string[] {
  return entries
    .filter((entry) => entry.Service.ID !== ownId && entry.Service.Meta?.appmesh_task === app)
    .filter((entry) => entry.Service.Port !== undefined && entry.Service.Port > 0)
    .map((entry) => `${entry.Service.Address || entry.Node.Address}:${entry.Service.Port}`)
    .sort();
}
