// Peer discovery: a cache of the passing instances of every service a local app registers under, kept
// by one blocking health watch per service name. Read synchronously, so a launching app gets its
// APPMESH_PEERS at once and the REST API serves the live list without asking Consul per request.
import { isDeepStrictEqual } from 'node:util';
import { distinctUntilChanged, map, type Observable, type Subscription } from 'rxjs';
import type { HealthServiceEntryWire } from '../../api/consul.js';
import type { Consul } from '../../src/consul/consul.js';
import { watchHealthService, type WatchOptions } from '../../src/consul/watch.js';
import type { Logger } from '../../src/runtime/logger.js';
import type { Runnable } from '../../src/runtime/manager.js';
import type { DesiredApps } from '../app-supervisor.js';
import { peersOf, serviceIdOf, serviceNameOf } from './registration.js';

export interface PeerDirectoryOptions {
  readonly consul: Consul;
  readonly node: string;
  readonly desiredApps: Observable<DesiredApps>;
  readonly logger: Logger;
  readonly watchOptions?: WatchOptions;
}

export class PeerDirectory implements Runnable {
  readonly name = 'peer-directory';
  readonly #options: PeerDirectoryOptions;
  /** App name -> its service name, for apps with a port. */
  #services: ReadonlyMap<string, string> = new Map();
  readonly #watches = new Map<string, Subscription>();
  readonly #instances = new Map<string, readonly HealthServiceEntryWire[]>();
  #subscription: Subscription | undefined;

  constructor(options: PeerDirectoryOptions) {
    this.#options = options;
  }

  start(): Promise<void> {
    if (this.#subscription !== undefined) return Promise.resolve();
    this.#subscription = this.#options.desiredApps
      .pipe(
        map((apps) => {
          const services = new Map<string, string>();
          for (const [name, app] of apps)
            if (app.spec.port !== undefined) services.set(name, serviceNameOf(app.spec));
          return services;
        }),
        distinctUntilChanged<ReadonlyMap<string, string>>(isDeepStrictEqual),
      )
      .subscribe((services) => this.#follow(services));
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.#subscription?.unsubscribe();
    this.#subscription = undefined;
    for (const watch of this.#watches.values()) watch.unsubscribe();
    this.#watches.clear();
    this.#instances.clear();
    return Promise.resolve();
  }

  /** The other passing instances of a local app as sorted `host:port`; undefined if it has no service. */
  peers(app: string): string[] | undefined {
    const service = this.#services.get(app);
    if (service === undefined) return undefined;
    return peersOf(this.#instances.get(service) ?? [], app, serviceIdOf(this.#options.node, app));
  }

  /** Starts a watch for each newly needed service name and ends the ones no app needs any more. */
  #follow(services: ReadonlyMap<string, string>): void {
    this.#services = services;
    const needed = new Set(services.values());
    for (const [service, watch] of this.#watches) {
      if (needed.has(service)) continue;
      watch.unsubscribe();
      this.#watches.delete(service);
      this.#instances.delete(service);
    }
    for (const service of needed) {
      if (this.#watches.has(service)) continue;
      const log = this.#options.logger;
      const watch = watchHealthService(this.#options.consul, service, {
        ...this.#options.watchOptions,
        passing: true,
        onRetry: (error, attempt, delayMs) =>
          log.warn('watching a service’s passing instances failed; retrying, peers may be stale', {
            service,
            attempt,
            delayMs,
            error: error instanceof Error ? error.message : String(error),
          }),
      });
      this.#watches.set(
        service,
        watch.snapshots.subscribe((entries) => this.#instances.set(service, entries)),
      );
    }
  }
}
