// ServiceRegistrar: makes this node's services in its local Consul agent match the local apps that run
// with a port. Keyed by app name, plus a resync key that lists the agent's services to remove what a
// crashed run left behind and to restore what a restarted Consul agent lost. It touches only services
// whose Meta says this node (never `appmesh-agent` or an operator's own registrations).
import { of, type Observable } from 'rxjs';
import type { DesiredApps } from '../app-supervisor.js';
import { exponentialBackoff } from '../../src/core/backoff.js';
import type { Consul } from '../../src/consul/consul.js';
import type { ServiceRegistration } from '../../src/consul/agent.js';
import type { AppState } from '../../src/process/index.js';
import { Controller } from '../../src/runtime/controller.js';
import type { Logger } from '../../src/runtime/logger.js';
import type { ReconcileResult, Reconciler } from '../../src/runtime/reconciler.js';
import type { RuntimeMetrics } from '../../src/runtime/runtime-metrics.js';
import {
  agentHolds,
  isOwnService,
  registrationFor,
  serviceIdOf,
  type RegistrationContext,
} from './registration.js';

/** The key of the periodic full pass; no app can have this name (names are 1+ characters). */
export const RESYNC_KEY = '';
export const DEFAULT_SERVICE_RESYNC_MS = 30_000;

export interface ServiceRegistrarOptions extends RegistrationContext {
  readonly consul: Consul;
  /** The latest desired local apps (read at reconcile time: level-triggered). */
  readonly desired: () => DesiredApps;
  /** The supervisor's state of an app, undefined when it has no process for it. */
  readonly state: (name: string) => AppState | undefined;
  /** How often the full pass runs (default 30 s). */
  readonly resyncMs?: number;
  readonly logger: Logger;
}

export class ServiceRegistrar implements Reconciler {
  /** What this run registered, by service ID, as JSON: re-registered only when it changes. */
  readonly #written = new Map<string, string>();
  readonly #options: ServiceRegistrarOptions;
  readonly #log: Logger;

  constructor(options: ServiceRegistrarOptions) {
    this.#options = options;
    this.#log = options.logger;
  }

  /** Services this agent has registered and not removed (the appmesh_services_registered gauge). */
  get registeredCount(): number {
    return this.#written.size;
  }

  async reconcile(key: string, signal: AbortSignal): Promise<ReconcileResult> {
    if (key === RESYNC_KEY) {
      await this.#resync(signal);
      return { requeueAfterMs: this.#options.resyncMs ?? DEFAULT_SERVICE_RESYNC_MS };
    }
    await this.#converge(key, signal);
  }

  /** Deregisters everything this node registered (agent shutdown, after the controller stopped). */
  async deregisterAll(): Promise<void> {
    const ids = new Set(this.#written.keys());
    try {
      const services = await this.#options.consul.agent.services();
      for (const service of Object.values(services)) {
        if (isOwnService(service, this.#options.node)) ids.add(service.ID);
      }
    } catch (error) {
      this.#log.warn('could not list the local consul agent’s services at shutdown; removing what we know', {
        error: errorMessage(error),
      });
    }
    for (const id of ids) {
      await this.#options.consul.agent.deregisterService(id);
      this.#written.delete(id);
    }
    if (ids.size > 0) this.#log.info('deregistered this node’s services', { services: [...ids].sort() });
  }

  #wanted(name: string): ServiceRegistration | undefined {
    const app = this.#options.desired().get(name);
    if (app === undefined) return undefined;
    return registrationFor(
      { name, spec: app.spec, owner: app.owner, state: this.#options.state(name) },
      this.#options,
    );
  }

  async #converge(name: string, signal: AbortSignal): Promise<void> {
    const id = serviceIdOf(this.#options.node, name);
    const wanted = this.#wanted(name);
    if (wanted === undefined) {
      if (!this.#written.has(id)) return;
      await this.#options.consul.agent.deregisterService(id, signal);
      this.#written.delete(id);
      this.#log.info('deregistered service', { app: name, service: id });
      return;
    }
    const text = JSON.stringify(wanted);
    if (this.#written.get(id) === text) return;
    // The ID depends only on node and app, so a changed registration replaces the old one in place:
    // Consul never shows a gap between the two.
    await this.#options.consul.agent.registerService(wanted, signal);
    this.#written.set(id, text);
    this.#log.info('registered service', { app: name, service: id, name: wanted.name, port: wanted.port });
  }

  async #resync(signal: AbortSignal): Promise<void> {
    const { consul, node } = this.#options;
    const services = await consul.agent.services(signal);
    const own = Object.values(services).filter((service) => isOwnService(service, node));
    for (const service of own) {
      const app = service.Meta?.appmesh_task ?? '';
      if (service.ID === serviceIdOf(node, app) && this.#wanted(app) !== undefined) continue;
      await consul.agent.deregisterService(service.ID, signal);
      this.#written.delete(service.ID);
      this.#log.info('removed a registration of this node that matches no running app', {
        service: service.ID,
      });
    }
    for (const name of this.#options.desired().keys()) {
      const wanted = this.#wanted(name);
      if (wanted === undefined) continue;
      if (!agentHolds(services[wanted.id], wanted)) {
        if (this.#written.has(wanted.id)) {
          this.#log.warn('the local consul agent lost or changed a service of ours; registering it again', {
            service: wanted.id,
          });
        }
        this.#written.delete(wanted.id);
      }
      await this.#converge(name, signal);
    }
  }
}

export interface ServiceRegistrarControllerOptions {
  readonly registrar: ServiceRegistrar;
  readonly desiredApps: Observable<DesiredApps>;
  /** The name of an app whose status changed. */
  readonly statusChanges: Observable<string>;
  readonly logger: Logger;
  readonly metrics: RuntimeMetrics;
}

/** The registrar's controller: app keys from the desired apps and status changes, plus the resync key. */
export function createServiceRegistrarController(
  options: ServiceRegistrarControllerOptions,
): Controller<string> {
  return new Controller<string>({
    name: 'service-registrar',
    reconciler: options.registrar,
    logger: options.logger,
    metrics: options.metrics,
    // Consul errors retry soon enough that a resync never waits longer than its own interval.
    backoff: exponentialBackoff({ initialMs: 250, maxMs: DEFAULT_SERVICE_RESYNC_MS }),
    // The resync key requeues itself; app keys need no periodic pass of their own.
    resyncMs: 0,
  })
    .watch(options.desiredApps, (apps) => apps.keys())
    .watch(options.statusChanges, (name) => [name])
    .watch(of(RESYNC_KEY), (key) => [key]);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
