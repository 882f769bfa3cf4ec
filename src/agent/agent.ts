// The composition root of the agent: wires the stores, the controllers and the HTTP surface together
// and hands their lifecycles to the Manager. Stand-alone mode: local apps only, managed over REST.
import { readFileSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { BehaviorSubject, combineLatest, merge, of, Subject, type Subscription } from 'rxjs';
import type { AppSpec } from '../../api/app.js';
import { Counter, Gauge, type Registry } from 'prom-client';
import {
  AppSupervisor,
  type AppOwner,
  type DesiredApp,
  type DesiredApps,
} from '../../controllers/app-supervisor.js';
import { reportedApp, type ReportedApp } from '../../controllers/reported-app.js';
import type { AppStatus } from '../process/app-status.js';
import { Controller } from '../runtime/controller.js';
import { createLogger, type Logger } from '../runtime/logger.js';
import { Manager } from '../runtime/manager.js';
import { createMetricsRegistry } from '../runtime/metrics.js';
import { RuntimeMetrics } from '../runtime/runtime-metrics.js';
import { admissionProblems, outputBudgetProblem } from '../process/admission.js';
import { agentEnvForApps, DEFAULT_DENY } from '../process/child-env.js';
import { dataDirToken } from './api-token.js';
import type { ClusterMode } from './cluster-mode.js';
import type { AgentConfig } from './config.js';
import { HttpServer, type Route } from './http-server.js';
import { LocalAppStore } from './local-apps.js';
import { ProcessLedger } from './process-ledger.js';
import { appViews, restApiRoutes } from './rest-api.js';
import { uiRoutes } from './ui-routes.js';

const APP_STATES = [
  'disabled',
  'waiting',
  'starting',
  'running',
  'stopping',
  'backoff',
  'standby',
  'failed',
  'removed',
];
const OWNERS: readonly AppOwner[] = ['local', 'cluster'];
const VERSION = (
  JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/**
 * The node report's `apps`: each app's owner, state, health and readiness (what `appmesh get` counts),
 * and its pid and restarts, so `appmesh describe` reads them from Consul instead of calling agents at
 * URLs the nodes advertise (they change only with the state, so they cost no extra report writes).
 */
export function appSummary(
  desired: DesiredApps,
  status: (name: string) => AppStatus | undefined,
): Record<string, ReportedApp & { pid?: number; restarts?: number }> {
  return Object.fromEntries(
    [...desired].map(([name, app]) => {
      const current = status(name);
      const process =
        current === undefined
          ? {}
          : {
              ...(current.pid !== undefined ? { pid: current.pid } : {}),
              restarts: Math.max(0, current.starts - 1),
            };
      return [name, { ...reportedApp(app.owner, app.spec, current), ...process }];
    }),
  );
}

/**
 * Local apps win a name clash: a cluster task never silently replaces an operator's app. The clash is
 * reported through `onConflict` (once per change of the clashing set).
 */
export function mergeDesiredApps(
  local: ReadonlyMap<string, AppSpec>,
  cluster: ReadonlyMap<string, AppSpec>,
  onConflict: (names: string[]) => void,
): DesiredApps {
  const merged = new Map<string, DesiredApp>();
  for (const [name, spec] of local) merged.set(name, { spec, owner: 'local' });
  const clashes: string[] = [];
  for (const [name, spec] of cluster) {
    if (merged.has(name)) clashes.push(name);
    else merged.set(name, { spec, owner: 'cluster' });
  }
  if (clashes.length > 0) onConflict(clashes);
  return merged;
}

export class Agent {
  private constructor(
    readonly config: AgentConfig,
    readonly logger: Logger,
    readonly registry: Registry,
    readonly manager: Manager,
    readonly http: HttpServer,
    private readonly subscriptions: Subscription[],
    private readonly store: LocalAppStore,
    readonly cluster: ClusterMode | undefined,
  ) {}

  /** Builds the agent; nothing runs until start(). Leftovers of a previous run are reaped here, first. */
  static async create(
    config: AgentConfig,
    logger: Logger = createLogger({ level: config.logLevel, format: config.logFormat }),
  ): Promise<Agent> {
    await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
    const apiToken = config.apiToken ?? (await generatedApiToken(config.dataDir, logger));
    // Read before anything runs, so a missing certificate is a start-up error, not a later one.
    const tls = config.tls === undefined ? undefined : await readTlsFiles(config.tls);
    const registry = createMetricsRegistry();
    const runtimeMetrics = new RuntimeMetrics(registry);

    // The store first: an apps.json that does not decode stops the agent before any process is touched.
    const store = await LocalAppStore.open(config.dataDir, logger.child({ component: 'local-apps' }));
    const ledger = await ProcessLedger.open(config.dataDir, logger.child({ component: 'process-ledger' }));
    await ledger.reapPreviousRun();
    // Computed once: the agent's variables apps may see (never its tokens; see child-env.ts).
    const baseEnv = agentEnvForApps(process.env, {
      allow: config.appEnv.allow,
      deny: config.appEnv.deny ?? DEFAULT_DENY,
    });
    const limits = { maxTotalOutputBufferBytes: config.maxTotalOutputBufferBytes };

    const desired = new BehaviorSubject<DesiredApps>(new Map());
    // The supervisor is built after the cluster parts that report on it; its changes are relayed here.
    const supervisorChanges = new Subject<string>();
    const listenHost =
      config.listenHost === '0.0.0.0' || config.listenHost === '::' ? '127.0.0.1' : config.listenHost;
    const apiUrl = `${tls === undefined ? 'http' : 'https'}://${listenHost.includes(':') ? `[${listenHost}]` : listenHost}:${config.listenPort}`;
    // What the node report and the UI's event stream follow: any change of the desired apps or their status.
    const appChanges = merge(desired, supervisorChanges);
    // Imported only in cluster mode: a stand-alone agent never loads the Consul client or the controllers.
    const cluster: ClusterMode | undefined = config.cluster
      ? new (await import('./cluster-mode.js')).ClusterMode({
          config: config.cluster,
          dataDir: config.dataDir,
          healthUrl: `${apiUrl}/healthz`,
          apiUrl,
          desiredApps: desired,
          currentApps: () => desired.value,
          appState: (name) => supervisor.status(name)?.state,
          appStatusChanges: supervisorChanges,
          version: VERSION,
          registry,
          metrics: runtimeMetrics,
          logger,
          appSummary: () => appSummary(desired.value, (name) => supervisor.status(name)),
          appChanges,
        })
      : undefined;
    let reportedClash = '';
    const reportClash = (names: string[]) => {
      const key = names.join(',');
      if (key === reportedClash) return;
      reportedClash = key;
      logger.error('cluster tasks placed here clash with local apps of the same name; the local apps stay', {
        apps: names,
      });
    };
    const subscriptions = [
      combineLatest([store.apps, cluster?.apps ?? of(new Map<string, AppSpec>())]).subscribe(
        ([local, placed]) => desired.next(mergeDesiredApps(local, placed, reportClash)),
      ),
    ];

    const restarts = new Counter({
      name: 'appmesh_app_restarts_total',
      help: 'Process starts of an app after its first one.',
      labelNames: ['app'],
      registers: [registry],
    });
    const supervisor = new AppSupervisor({
      desired: () => desired.value,
      refusal: (_name, spec, others) => outputBudgetProblem(spec, others, limits),
      logger,
      processDeps: (name) => ({
        logger: logger.child({ app: name }),
        recorder: ledger,
        agentId: ledger.agentId,
        baseEnv,
        outputDir: join(config.dataDir, 'output'),
        // Read at each launch, never put in the spec: a changing peer list must not restart the app.
        launchEnv: (): Record<string, string> =>
          cluster !== undefined && desired.value.get(name)?.owner === 'cluster'
            ? { APPMESH_PEERS: (cluster.peers.peers(name) ?? []).join(',') }
            : {},
      }),
      onRemoved: (name, owner) => {
        if (owner === 'local') {
          store.delete(name).catch((err: unknown) =>
            logger.error('could not remove an app whose exit action is remove', {
              app: name,
              error: (err as Error).message,
            }),
          );
        }
      },
      onStart: (name, starts) => {
        if (starts > 1) restarts.inc({ app: name });
      },
    });
    new Gauge({
      name: 'appmesh_apps',
      help: 'Supervised apps by state and owner.',
      labelNames: ['state', 'owner'],
      registers: [registry],
      collect() {
        this.reset();
        for (const state of APP_STATES) for (const owner of OWNERS) this.set({ state, owner }, 0);
        for (const row of supervisor.counts()) this.set({ state: row.state, owner: row.owner }, row.count);
      },
    });

    subscriptions.push(supervisor.changes.subscribe(supervisorChanges));
    // A PUT is refused (400) when the app could not run here next to the others; disabling never is.
    store.admission = (spec) => {
      const others = [...desired.value].filter(([name]) => name !== spec.name).map(([, app]) => app.spec);
      if (spec.status === 0) {
        const problem = outputBudgetProblem(spec, others, limits);
        return problem === undefined ? [] : [problem];
      }
      return admissionProblems(spec, others, limits);
    };

    const controller = new Controller<string>({
      name: 'app-supervisor',
      reconciler: supervisor,
      logger,
      metrics: runtimeMetrics,
    }).watch(desired, (apps) => apps.keys());

    const manager = new Manager({
      logger,
      metrics: runtimeMetrics,
      shutdownTimeoutMs: config.shutdownTimeoutMs,
    });
    const operational: Route[] = [
      {
        method: 'GET',
        path: '/metrics',
        access: 'open',
        handle: async () => ({
          status: 200,
          body: await registry.metrics(),
          headers: { 'content-type': registry.contentType },
        }),
      },
      { method: 'GET', path: '/healthz', access: 'open', handle: () => ({ status: 200, body: 'ok\n' }) },
      {
        method: 'GET',
        path: '/readyz',
        access: 'open',
        // In cluster mode the agent is only useful once Consul lets it hold its session and node key;
        // an agent refused by Consul (ACLs, a duplicate node name) must say so rather than look ready.
        handle: () =>
          !manager.started
            ? { status: 503, body: 'starting\n' }
            : cluster !== undefined && !cluster.ready()
              ? { status: 503, body: 'no consul session or node key yet; see the agent log\n' }
              : { status: 200, body: 'ready\n' },
      },
    ];
    const http = new HttpServer({
      host: config.listenHost,
      port: config.listenPort,
      routes: [
        ...operational,
        ...restApiRoutes({
          store,
          supervisor,
          desired: () => desired.value,
          ...(cluster !== undefined ? { peers: (name: string) => cluster.peers.peers(name) } : {}),
        }),
        ...uiRoutes({
          node: config.cluster?.nodeName ?? hostname(),
          version: VERSION,
          tokenRequired: true,
          apps: () => appViews({ desired: () => desired.value, supervisor }),
          appChanges,
          ...(cluster !== undefined ? { cluster: cluster.view } : {}),
        }),
      ],
      apiToken,
      allowedHosts: [config.listenHost, ...advertisedHost(config)],
      ...(tls === undefined ? {} : { tls }),
      maxBodyBytes: config.maxBodyBytes,
      logger,
    });
    manager.addRunnable(http).addController(controller);
    cluster?.register(manager); // its release hook (destroy the session) runs before the apps stop
    manager.onRelease(() => supervisor.stopAll());
    return new Agent(config, logger, registry, manager, http, subscriptions, store, cluster);
  }

  /** The base URL the API answers on. */
  get url(): string {
    const { host, port } = this.http.address;
    const scheme = this.config.tls === undefined ? 'http' : 'https';
    return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  start(): Promise<void> {
    return this.manager.start();
  }

  /** Stops controllers and every app, then the HTTP server. */
  async stop(): Promise<void> {
    await this.manager.stop();
    for (const s of this.subscriptions) s.unsubscribe();
    this.store.close();
    await this.cluster?.close();
  }
}

/** The token in `<dataDir>/api-token`, generated at first start; where it is gets logged, never the token. */
async function generatedApiToken(dataDir: string, logger: Logger): Promise<string> {
  const found = await dataDirToken(dataDir);
  if (found.generated)
    logger.info('generated the API token (only this user can read it)', { file: found.path });
  if (found.tightened)
    logger.warn('the API token file was readable by others; made it 0600', { file: found.path });
  return found.token;
}

async function readTlsFiles(files: {
  certFile: string;
  keyFile: string;
}): Promise<{ cert: Buffer; key: Buffer }> {
  const read = async (path: string, what: string) => {
    try {
      return await readFile(path);
    } catch (err) {
      throw new Error(`the API's TLS ${what} ${path} could not be read: ${(err as Error).message}`);
    }
  };
  return {
    cert: await read(files.certFile, 'certificate (--tls-cert)'),
    key: await read(files.keyFile, 'key (--tls-key)'),
  };
}

/** The advertise URL's host, which requests addressed to this agent may name too. */
function advertisedHost(config: AgentConfig): string[] {
  if (config.cluster === undefined) return [];
  try {
    return [new URL(config.cluster.advertiseUrl).hostname];
  } catch {
    return [];
  }
}
