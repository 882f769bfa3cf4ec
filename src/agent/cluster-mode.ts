// Cluster mode wiring: the Consul client, this agent's session, node report, election, the leader-only
// scheduler, the topology applier and the service registrar (with its peer directory), handed to the
// Manager. Agents only ever talk to Consul.
import { Counter, Gauge, type Registry } from 'prom-client';
import { BehaviorSubject, of, type Observable } from 'rxjs';
import type { AppSpec } from '../../api/app.js';
import { LeaderElector } from '../../controllers/leader-elector.js';
import { NodeReporter, type NodeReporterState } from '../../controllers/node-reporter.js';
import type { DesiredApps } from '../../controllers/app-supervisor.js';
import { createScheduler } from '../../controllers/scheduler/scheduler.js';
import { DynamicPortAllocator } from '../../controllers/service-registrar/dynamic-ports.js';
import { PeerDirectory } from '../../controllers/service-registrar/peers.js';
import {
  createServiceRegistrarController,
  ServiceRegistrar,
} from '../../controllers/service-registrar/registrar.js';
import { SessionManager } from '../../controllers/session-manager.js';
import { TopologyApplier } from '../../controllers/topology-applier.js';
import { ConsulClient } from '../consul/client.js';
import { Consul } from '../consul/consul.js';
import { ConsulMetrics } from '../consul/metrics.js';
import type { ConsulConnectionOptions } from '../consul/options.js';
import type { WatchOptions } from '../consul/watch.js';
import type { AppState } from '../process/index.js';
import type { Controller } from '../runtime/controller.js';
import type { Logger } from '../runtime/logger.js';
import type { Manager } from '../runtime/manager.js';
import type { RuntimeMetrics } from '../runtime/runtime-metrics.js';
import { ClusterView } from './cluster-view.js';
import type { ClusterConfig } from './config.js';
import { hostLabels, steadyHostResources } from './host-facts.js';

export interface ClusterModeDeps {
  readonly config: ClusterConfig;
  readonly dataDir: string;
  /** The agent's own /healthz as the local Consul agent reaches it. */
  readonly healthUrl: string;
  readonly version: string;
  readonly registry: Registry;
  readonly metrics: RuntimeMetrics;
  readonly logger: Logger;
  /** Summary of the local apps for the node report (name -> owner). */
  readonly appSummary: () => Record<string, unknown>;
  /** Emits when the summary may have changed. */
  readonly appChanges: Observable<unknown>;
  /** The agent's REST API base URL as the local Consul agent reaches it (services' HTTP checks). */
  readonly apiUrl: string;
  /** Every desired local app (stand-alone store and cluster-owned), latest first on subscribe. */
  readonly desiredApps: Observable<DesiredApps>;
  readonly currentApps: () => DesiredApps;
  /** The supervisor's state of an app; undefined when it has no process for it. */
  readonly appState: (name: string) => AppState | undefined;
  /** The name of an app whose status changed. */
  readonly appStatusChanges: Observable<string>;
}

/**
 * Rejects (ConsulTlsError) when Consul's TLS listener and our TLS settings disagree, which no retry can
 * fix. Anything else, Consul being down included, passes: an agent starts without Consul and retries.
 */
export async function checkConsulTls(options: ConsulConnectionOptions): Promise<void> {
  const client = new ConsulClient(options);
  try {
    await client.checkTls();
  } finally {
    await client.close();
  }
}

export class ClusterMode {
  readonly consul: Consul;
  readonly sessions: SessionManager;
  readonly reporter: NodeReporter;
  readonly elector: LeaderElector | undefined;
  readonly applier: TopologyApplier | undefined;
  readonly leadership: Observable<boolean>;
  readonly registrar: ServiceRegistrar;
  readonly peers: PeerDirectory;
  /** What the web UI and `GET /appmesh/cluster/*` show; its watches run only while someone looks. */
  readonly view: ClusterView;
  readonly #registrarController: Controller<string>;
  readonly #reporterState = new BehaviorSubject<NodeReporterState>('waiting');
  /** Given to every controller that watches Consul: empty, or the polling baseline's interval. */
  readonly #watchOptions: WatchOptions;

  constructor(private readonly deps: ClusterModeDeps) {
    const { config, logger, registry } = deps;
    this.consul = Consul.connect(config.consul, { metrics: new ConsulMetrics(registry) });
    const watchOptions: WatchOptions =
      config.pollIntervalMs === undefined ? {} : { pollIntervalMs: config.pollIntervalMs };
    this.#watchOptions = watchOptions;
    if (config.pollIntervalMs !== undefined || config.reportIntervalMs !== undefined) {
      logger.warn(
        'running as the polling baseline for benchmarks, not as recommended (consul.pollInterval / consul.reportInterval)',
        {
          pollIntervalMs: config.pollIntervalMs,
          reportIntervalMs: config.reportIntervalMs,
        },
      );
    }
    const recreations = new Counter({
      name: 'appmesh_session_recreations_total',
      help: 'Consul sessions created to replace a lost one.',
      registers: [registry],
    });
    this.sessions = new SessionManager({
      consul: this.consul,
      node: config.nodeName,
      prefix: config.prefix,
      ttlSeconds: config.sessionTtlSeconds,
      lockDelaySeconds: config.lockDelaySeconds,
      ...(config.livenessIntervalSeconds > 0
        ? {
            healthUrl: deps.healthUrl,
            livenessIntervalSeconds: config.livenessIntervalSeconds,
            advertiseUrl: config.advertiseUrl,
          }
        : {}),
      dataDir: deps.dataDir,
      logger: logger.child({ component: 'session' }),
      onRecreated: () => recreations.inc(),
    });
    this.elector = config.isMain
      ? new LeaderElector({
          consul: this.consul,
          prefix: config.prefix,
          node: config.nodeName,
          sessions: this.sessions.sessions,
          logger: logger.child({ component: 'leader-elector' }),
          watchOptions,
        })
      : undefined;
    this.leadership = this.elector?.leadership ?? of(false);
    const resources = steadyHostResources();
    this.reporter = new NodeReporter({
      consul: this.consul,
      prefix: config.prefix,
      node: config.nodeName,
      sessions: this.sessions.sessions,
      leadership: this.leadership,
      report: () => ({
        appmesh: config.advertiseUrl,
        label: { ...hostLabels(), ...config.labels, HOST_NAME: config.nodeName },
        resource: resources(),
        apps: deps.appSummary(),
        version: deps.version,
        worker: config.isWorker,
      }),
      changes: deps.appChanges,
      logger: logger.child({ component: 'node-reporter' }),
      ...(config.reportIntervalMs === undefined ? {} : { heartbeatMs: config.reportIntervalMs }),
      watchOptions,
    });
    this.applier = config.isWorker
      ? new TopologyApplier({
          consul: this.consul,
          prefix: config.prefix,
          node: config.nodeName,
          logger: logger.child({ component: 'topology-applier' }),
          dynamicPorts: new DynamicPortAllocator(config.dynamicPortRange),
          appState: deps.appState,
          appStatusChanges: deps.appStatusChanges,
          watchOptions,
        })
      : undefined;
    this.registrar = new ServiceRegistrar({
      consul: this.consul,
      node: config.nodeName,
      address: new URL(config.advertiseUrl).hostname.replace(/^\[(.*)\]$/, '$1'),
      agentUrl: deps.apiUrl,
      desired: deps.currentApps,
      state: deps.appState,
      resyncMs: config.serviceResyncMs,
      logger: logger.child({ component: 'service-registrar' }),
    });
    this.#registrarController = createServiceRegistrarController({
      registrar: this.registrar,
      desiredApps: deps.desiredApps,
      statusChanges: deps.appStatusChanges,
      logger,
      metrics: deps.metrics,
    });
    const registrar = this.registrar;
    new Gauge({
      name: 'appmesh_services_registered',
      help: 'Consul services this agent has registered for its apps.',
      registers: [registry],
      collect() {
        this.set(registrar.registeredCount);
      },
    });
    this.peers = new PeerDirectory({
      consul: this.consul,
      node: config.nodeName,
      desiredApps: deps.desiredApps,
      logger: logger.child({ component: 'peer-directory' }),
      watchOptions,
    });
    this.view = new ClusterView({ consul: this.consul, prefix: config.prefix, watchOptions });
  }

  /** Cluster-owned apps for this node (empty on a non-worker). */
  get apps(): Observable<ReadonlyMap<string, AppSpec>> {
    return this.applier?.apps ?? of(new Map<string, AppSpec>());
  }

  /** Ready = a session exists and the node key is ours (not held by another agent of the same name). */
  ready(): boolean {
    return this.sessions.current !== undefined && this.#reporterState.value === 'ok';
  }

  /** Adds every part to the manager in start order; the session goes first at shutdown so tasks move at once. */
  register(manager: Manager): void {
    const { config, logger, metrics } = this.deps;
    this.reporter.state.subscribe(this.#reporterState);
    manager.addRunnable(this.sessions).addRunnable(this.reporter);
    if (this.elector) manager.addRunnable(this.elector);
    if (this.applier) manager.addRunnable(this.applier);
    manager.addRunnable(this.peers).addController(this.#registrarController);
    if (this.elector) {
      const elector = this.elector;
      manager.addController(
        createScheduler({
          consul: this.consul,
          prefix: config.prefix,
          leaderSession: () => elector.leaderSession(),
          metrics,
          registry: this.deps.registry,
          logger: logger.child({ component: 'scheduler' }),
          watchOptions: this.#watchOptions,
        }),
        { leaderOnly: true },
      );
    }
    manager.setLeadership(this.leadership);
    // Destroying the session first deletes the node key, so the leader moves this node's tasks while
    // its apps are still stopping, rather than after.
    manager.onRelease(() => this.sessions.stop());
    // The registrar's controller has stopped by now, so nothing registers again behind this; the apps
    // stop after it (the agent's own release hook), so no service outlives its process.
    manager.onRelease(() => this.registrar.deregisterAll());
  }

  /** Closes the Consul connection pool (after the manager stopped everything). */
  async close(): Promise<void> {
    this.view.stop();
    this.#reporterState.complete();
    await this.consul.close();
  }
}
