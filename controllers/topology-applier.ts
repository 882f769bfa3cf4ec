// TopologyApplier: turns this node's `cluster/topology/<node>` key and the task specs into the set of
// cluster-owned apps the AppSupervisor runs here. It prefers keeping an app running on its last valid
// spec over stopping it: a bad task value, a bad topology value or an unreachable Consul change nothing.
// A dynamic port that turns out to be taken by another process is replaced, so the replica does not
// crash-loop on it.
import { isDeepStrictEqual } from 'node:util';
import { isLeft } from 'fp-ts/lib/Either.js';
import {
  BehaviorSubject,
  combineLatest,
  distinctUntilChanged,
  type Observable,
  type Subscription,
} from 'rxjs';
import type { AppSpec } from '../api/app.js';
import { decodeClusterTaskJson, NodeTopology, type ClusterTaskSpec } from '../api/cluster.js';
import type { KvEntry } from '../api/consul.js';
import { decodeJson } from '../api/decode.js';
import { Port } from '../api/names.js';
import type { Consul } from '../src/consul/consul.js';
import { watchKey, watchPrefix, type WatchOptions } from '../src/consul/watch.js';
import type { AppState } from '../src/process/app-status.js';
import type { Logger } from '../src/runtime/logger.js';
import type { Runnable } from '../src/runtime/manager.js';
import { DynamicPortAllocator, listeningPorts } from './service-registrar/dynamic-ports.js';

export interface TopologyApplierOptions {
  readonly consul: Consul;
  readonly prefix: string;
  readonly node: string;
  readonly logger: Logger;
  readonly watchOptions?: WatchOptions;
  /**
   * Ports for tasks with `dynamicPort: true` (default: 20000-32000, checked against listening sockets and
   * claimed host-wide, so agents on one host never hand out the same port).
   */
  readonly dynamicPorts?: DynamicPortAllocator;
  /** The supervisor's state of an app (to notice a replica that cannot bind its dynamic port). */
  readonly appState?: (name: string) => AppState | undefined;
  /** Names of apps whose status changed. */
  readonly appStatusChanges?: Observable<string>;
  /** TCP ports something listens on (default: /proc/net/tcp{,6}). */
  readonly listening?: () => ReadonlySet<number>;
}

/**
 * States in which an app has no process: if its port is listened on then, another process holds it, and
 * the app cannot bind it (it crashed on the bind and waits to restart, or gave up).
 */
const DOWN_STATES: ReadonlySet<AppState> = new Set(['backoff', 'failed']);

export class TopologyApplier implements Runnable {
  readonly name = 'topology-applier';
  /**
   * The cluster-owned apps this node should run: task name -> AppSpec, whose env adds APPMESH_NODE,
   * APPMESH_TASK and (when the task has a port) PORT, with `port` set. Replays the latest; distinct
   * (deep-equal) values only; starts as an empty map.
   */
  readonly apps: Observable<ReadonlyMap<string, AppSpec>>;

  readonly #options: TopologyApplierOptions;
  readonly #log: Logger;
  readonly #topologyKey: string;
  readonly #tasksPrefix: string;
  readonly #apps = new BehaviorSubject<ReadonlyMap<string, AppSpec>>(new Map());
  /** Each task's last valid value: what a placed task keeps running while its value is bad or gone. */
  readonly #lastValid = new Map<string, ClusterTaskSpec>();
  /** Problems already logged, by subject, so each is logged once per change. */
  readonly #logged = new Map<string, string>();
  readonly #dynamicPorts: DynamicPortAllocator;
  #subscription: Subscription | undefined;
  #statusSubscription: Subscription | undefined;
  /** The last inputs, to apply again when a dynamic port is replaced. */
  #lastInputs: [KvEntry | undefined, ReadonlyMap<string, KvEntry>] | undefined;

  constructor(options: TopologyApplierOptions) {
    this.#options = options;
    this.#log = options.logger;
    this.#dynamicPorts = options.dynamicPorts ?? new DynamicPortAllocator();
    this.#topologyKey = `${options.prefix}/cluster/topology/${options.node}`;
    this.#tasksPrefix = `${options.prefix}/cluster/tasks/`;
    this.apps = this.#apps.pipe(distinctUntilChanged<ReadonlyMap<string, AppSpec>>(isDeepStrictEqual));
  }

  /** Subscribes and returns at once; the watches retry on their own until stop(). */
  start(): Promise<void> {
    if (this.#subscription !== undefined) return Promise.resolve();
    const { consul } = this.#options;
    const topology = watchKey(consul, this.#topologyKey, this.#watchOptions(this.#topologyKey));
    const tasks = watchPrefix(consul, this.#tasksPrefix, this.#watchOptions(this.#tasksPrefix));
    this.#subscription = combineLatest([topology.snapshots, tasks.snapshots]).subscribe({
      next: ([entry, taskEntries]) => {
        this.#lastInputs = [entry, taskEntries];
        this.#apply(entry, taskEntries);
      },
      // Not expected (watches retry forever); the apps keep running on the last map.
      error: (error: unknown) =>
        this.#log.error('the topology watch stopped on an unexpected error; cluster apps stay as they are', {
          error: errorMessage(error),
        }),
    });
    this.#statusSubscription = this.#options.appStatusChanges?.subscribe({
      next: (name) => this.#checkDynamicPort(name),
      error: (error: unknown) =>
        this.#log.error('the app status stream stopped; taken dynamic ports are no longer noticed', {
          error: errorMessage(error),
        }),
    });
    return Promise.resolve();
  }

  /** Stops watching and gives back this agent's port claims (its apps stop with the agent). */
  stop(): Promise<void> {
    this.#subscription?.unsubscribe();
    this.#subscription = undefined;
    this.#statusSubscription?.unsubscribe();
    this.#statusSubscription = undefined;
    this.#dynamicPorts.releaseAll();
    return Promise.resolve();
  }

  /**
   * A replica with a dynamic port that is down while something listens on its port: another process took
   * the port (before the app bound it, or while it restarted). Give the task a new port; the supervisor
   * restarts the app with the new PORT instead of crash-looping on the old one.
   */
  #checkDynamicPort(name: string): void {
    const port = this.#dynamicPorts.heldBy(name);
    const inputs = this.#lastInputs;
    if (port === undefined || inputs === undefined || this.#apps.value.get(name)?.port !== port) return;
    const state = this.#options.appState?.(name);
    if (state === undefined || !DOWN_STATES.has(state)) return;
    if (!(this.#options.listening ?? listeningPorts)().has(port)) return;
    this.#dynamicPorts.replace(name);
    this.#apply(...inputs);
    this.#log.warn('the dynamic port of a task is taken by another process; giving it a new one', {
      task: name,
      port,
      newPort: this.#apps.value.get(name)?.port,
    });
  }

  #apply(entry: KvEntry | undefined, taskEntries: ReadonlyMap<string, KvEntry>): void {
    const placements = this.#placements(entry);
    if (placements === undefined) return;
    const apps = new Map<string, AppSpec>();
    for (const task of [...new Set(placements)].sort()) {
      const spec = this.#resolve(task, taskEntries.get(this.#tasksPrefix + task));
      if (spec) apps.set(task, this.#appOf(task, spec));
    }
    this.#dynamicPorts.keepOnly(new Set(apps.keys()));
    // Forget tasks that are neither placed here nor stored, so the memory does not grow for ever.
    for (const task of this.#lastValid.keys()) {
      if (!apps.has(task) && !taskEntries.has(this.#tasksPrefix + task)) this.#lastValid.delete(task);
    }
    if (!isDeepStrictEqual(apps, this.#apps.value)) this.#apps.next(apps);
  }

  /** The tasks placed here; undefined (keep the current apps) when the value does not decode. */
  #placements(entry: KvEntry | undefined): string[] | undefined {
    if (entry === undefined) return [];
    const decoded = decodeJson(NodeTopology, entry.value ?? '', this.#topologyKey);
    if (isLeft(decoded)) {
      this.#logOnce('topology', 'this node’s topology value is invalid; cluster apps stay as they are', {
        error: decoded.left.message,
      });
      return undefined;
    }
    this.#logged.delete('topology');
    return decoded.right.map((placement) => placement.app);
  }

  /** The task's spec: its current value if valid, else the last valid one; undefined if it never was. */
  #resolve(task: string, entry: KvEntry | undefined): ClusterTaskSpec | undefined {
    const subject = this.#tasksPrefix + task;
    const problem = entry === undefined ? `${subject}: the task does not exist` : undefined;
    const decoded = entry === undefined ? undefined : decodeClusterTaskJson(entry.value, task, subject);
    if (decoded !== undefined && !isLeft(decoded)) {
      this.#lastValid.set(task, decoded.right.task);
      this.#logged.delete(`task:${task}`);
      return decoded.right.task;
    }
    const error = problem ?? decoded?.left.message ?? subject;
    const last = this.#lastValid.get(task);
    if (last) {
      this.#logOnce(`task:${task}`, 'placed task is invalid or gone; keeping its last valid spec', {
        task,
        error,
      });
    } else {
      this.#logOnce(`task:${task}`, 'placed task has no valid spec; not running it', { task, error });
    }
    return last;
  }

  #appOf(task: string, spec: ClusterTaskSpec): AppSpec {
    const { content } = spec;
    const port = spec.dynamicPort === true ? this.#dynamicPortOf(task) : spec.port;
    return {
      ...content, // its name is already the task's (decodeClusterTask)
      env: {
        ...content.env,
        APPMESH_NODE: this.#options.node,
        APPMESH_TASK: task,
        ...(port !== undefined ? { PORT: String(port) } : {}),
      },
      ...(port !== undefined ? { port } : {}),
    };
  }

  /** The task's port from this node's range, held while it is placed here. */
  #dynamicPortOf(task: string): Port | undefined {
    const port = this.#dynamicPorts.portFor(task);
    if (port === undefined || !Port.is(port)) {
      this.#logOnce(
        `port:${task}`,
        'no free port left in the dynamic port range; running the task without one',
        {
          task,
        },
      );
      return undefined;
    }
    this.#logged.delete(`port:${task}`);
    const problem = this.#dynamicPorts.claims.problem;
    if (problem !== undefined) this.#logOnce('port-claims', problem, {});
    else this.#logged.delete('port-claims');
    return port;
  }

  #logOnce(subject: string, message: string, fields: Record<string, unknown>): void {
    const text = `${message}:${JSON.stringify(fields)}`;
    if (this.#logged.get(subject) === text) return;
    this.#logged.set(subject, text);
    this.#log.warn(message, fields);
  }

  #watchOptions(watched: string): WatchOptions {
    return {
      ...this.#options.watchOptions,
      onRetry: (error, attempt, delayMs) =>
        this.#log.warn('watching cluster state failed; retrying, cluster apps stay as they are', {
          key: watched,
          attempt,
          delayMs,
          error: errorMessage(error),
        }),
    };
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
