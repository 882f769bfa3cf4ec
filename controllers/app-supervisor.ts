// AppSupervisor: makes the set of supervised local processes match the desired apps (the stand-alone
// store plus, in cluster mode, what the TopologyApplier places here). One AppProcess per desired app;
// a changed spec is handed to it, a vanished app is stopped. The processes themselves handle restarts.
// A reconcile never waits for an app's process: stops and updates run in the background, one at a time
// per app, so an app whose process will not start, stop or exit holds up only itself, never the worker
// that serves every other app.
import { isDeepStrictEqual } from 'node:util';
import { Subject, type Observable } from 'rxjs';
import type { AppSpec } from '../api/app.js';
import { AppProcess, type AppProcessDeps, type AppStatus, type OutputChunk } from '../src/process/index.js';
import { systemClock, type Clock } from '../src/core/clock.js';
import type { Reconciler, ReconcileResult } from '../src/runtime/reconciler.js';

/** While an app's stop or update is still running, its key is looked at again this often. */
const BUSY_RECHECK_MS = 200;
/** A refused app is checked again this often. */
const REFUSED_RECHECK_MS = 5_000;
/** How long an imperative restart waits before answering; the restart itself carries on. */
const RESTART_ANSWER_MS = 15_000;

export type AppOwner = 'local' | 'cluster';

export interface DesiredApp {
  readonly spec: AppSpec;
  readonly owner: AppOwner;
}

export type DesiredApps = ReadonlyMap<string, DesiredApp>;

export interface AppSupervisorDeps {
  /** The latest desired apps (read at reconcile time: level-triggered). */
  readonly desired: () => DesiredApps;
  readonly processDeps: (name: string) => AppProcessDeps;
  /** Told when an app's exit action was `remove`, so its owner can delete it. */
  readonly onRemoved?: (name: string, owner: AppOwner) => void;
  /** Told each time a process of the app starts, with the app's start count. */
  readonly onStart?: (name: string, starts: number) => void;
  /**
   * Why this app must not run next to the others (e.g. the agent-wide output buffer budget), or
   * undefined. Checked before an app is launched or its spec is changed; a refused app shows `failed`.
   */
  readonly refusal?: (name: string, spec: AppSpec, others: readonly AppSpec[]) => string | undefined;
  readonly logger?: { error(message: string, meta?: Record<string, unknown>): void };
  readonly clock?: Clock;
}

/** What a refused app shows: never launched, `failed`, with the reason. */
function refusedStatus(name: string, reason: string): AppStatus {
  return {
    name,
    state: 'failed',
    pid: undefined,
    starts: 0,
    last_start_time: undefined,
    last_exit_time: undefined,
    return_code: undefined,
    health: 'unhealthy',
    rss_bytes: undefined,
    cpu_seconds: undefined,
    next_start_time: undefined,
    last_error: reason,
  };
}

export class AppSupervisor implements Reconciler {
  readonly #processes = new Map<string, { process: AppProcess; owner: AppOwner }>();
  readonly #changes = new Subject<string>();
  /** Apps whose stop or spec update is in flight: not touched again until it is done. */
  readonly #busy = new Map<string, Promise<void>>();
  /** Apps refused by `refusal`, with the reason (they have no process). */
  readonly #refused = new Map<string, { spec: AppSpec; reason: string }>();

  /** The name of an app whenever its status changed (started, exited, health flipped, stopped). */
  readonly changes: Observable<string> = this.#changes.asObservable();

  constructor(private readonly deps: AppSupervisorDeps) {}

  reconcile(name: string): Promise<ReconcileResult> {
    // Level-triggered: what is in flight finishes first, then this key is compared afresh.
    if (this.#busy.has(name)) return Promise.resolve({ requeueAfterMs: BUSY_RECHECK_MS });
    const want = this.deps.desired().get(name);
    const have = this.#processes.get(name);
    if (want === undefined) {
      if (this.#refused.delete(name)) this.#changes.next(name);
      if (have === undefined) return Promise.resolve();
      this.#processes.delete(name);
      this.#inBackground(name, 'stopping', have.process.stop());
      return Promise.resolve();
    }
    const reason = this.#refusalOf(name, want.spec);
    if (reason !== undefined) {
      this.#refuse(name, want.spec, reason);
      if (have !== undefined) {
        this.#processes.delete(name);
        this.#inBackground(name, 'stopping', have.process.stop());
      }
      // Room may appear without this key changing (another app shrinks or goes): look again later.
      return Promise.resolve({ requeueAfterMs: REFUSED_RECHECK_MS });
    }
    if (this.#refused.delete(name)) this.#changes.next(name);
    if (have === undefined) {
      this.#launch(name, want);
      return Promise.resolve();
    }
    have.owner = want.owner;
    if (!isDeepStrictEqual(have.process.spec, want.spec)) {
      this.#inBackground(name, 'updating', have.process.update(want.spec));
    }
    return Promise.resolve();
  }

  #refusalOf(name: string, spec: AppSpec): string | undefined {
    if (this.deps.refusal === undefined) return undefined;
    // Admitted apps that are still desired, with the spec they are about to get: an app on its way
    // out frees its share at once, and an app admitted first keeps its place.
    const desired = this.deps.desired();
    const others: AppSpec[] = [];
    for (const other of this.#processes.keys()) {
      const spec = other === name ? undefined : desired.get(other)?.spec;
      if (spec !== undefined) others.push(spec);
    }
    return this.deps.refusal(name, spec, others);
  }

  #refuse(name: string, spec: AppSpec, reason: string): void {
    const before = this.#refused.get(name);
    if (before?.reason === reason && isDeepStrictEqual(before.spec, spec)) return;
    this.#refused.set(name, { spec, reason });
    this.deps.logger?.error('app refused', { app: name, error: reason });
    this.#changes.next(name);
  }

  /** Runs one app's stop or update without holding the reconcile; its failure is that app's alone. */
  #inBackground(name: string, what: string, work: Promise<void>): void {
    const done = work
      .catch((err: unknown) =>
        this.deps.logger?.error(`${what} the app failed`, { app: name, error: String(err) }),
      )
      .finally(() => {
        this.#busy.delete(name);
        this.#changes.next(name);
      });
    this.#busy.set(name, done);
  }

  #launch(name: string, want: DesiredApp): void {
    const process = new AppProcess(want.spec, this.deps.processDeps(name));
    const entry = { process, owner: want.owner };
    this.#processes.set(name, entry);
    let starts = 0;
    process.changes.subscribe((status) => {
      if (status.starts > starts) {
        starts = status.starts;
        this.deps.onStart?.(name, starts);
      }
      if (status.state === 'removed') this.deps.onRemoved?.(name, entry.owner);
      this.#changes.next(name);
    });
    process.start();
  }

  names(): string[] {
    return [...this.#processes.keys()].sort();
  }

  status(name: string): AppStatus | undefined {
    const refused = this.#refused.get(name);
    if (refused !== undefined) return refusedStatus(name, refused.reason);
    return this.#processes.get(name)?.process.status();
  }

  output(name: string, fromOffset?: number): OutputChunk | undefined {
    return this.#processes.get(name)?.process.output(fromOffset);
  }

  healthy(name: string): boolean | undefined {
    if (this.#refused.has(name)) return false;
    return this.#processes.get(name)?.process.healthy();
  }

  /**
   * Restart now (an imperative action, not desired state). False when the app is not supervised. Answers
   * within RESTART_ANSWER_MS even if the old process is slow to go; the restart carries on regardless.
   */
  async restart(name: string): Promise<boolean> {
    const entry = this.#processes.get(name);
    if (!entry) return false;
    const restarted = entry.process.restart().catch((err: unknown) => {
      this.deps.logger?.error('restarting the app failed', { app: name, error: String(err) });
    });
    let cancel: () => void = () => undefined;
    const answer = new Promise<void>((resolve) => {
      cancel = (this.deps.clock ?? systemClock).setTimeout(resolve, RESTART_ANSWER_MS);
    });
    await Promise.race([restarted, answer]);
    cancel();
    return true;
  }

  /** Counts by state and owner, for the appmesh_apps gauge. */
  counts(): Array<{ state: string; owner: AppOwner; count: number }> {
    const counts = new Map<string, { state: string; owner: AppOwner; count: number }>();
    for (const { process, owner } of this.#processes.values()) {
      const state = process.status().state;
      const key = `${state}/${owner}`;
      const row = counts.get(key) ?? { state, owner, count: 0 };
      row.count += 1;
      counts.set(key, row);
    }
    for (const name of this.#refused.keys()) {
      const owner = this.deps.desired().get(name)?.owner ?? 'local';
      const row = counts.get(`failed/${owner}`) ?? { state: 'failed', owner, count: 0 };
      row.count += 1;
      counts.set(`failed/${owner}`, row);
    }
    return [...counts.values()];
  }

  /** Stop every process (agent shutdown). */
  async stopAll(): Promise<void> {
    const all = [...this.#processes.values()];
    this.#processes.clear();
    this.#refused.clear();
    // Each stop is bounded inside AppProcess (grace, launch bound, a give-up after SIGKILL).
    await Promise.all([...all.map(({ process }) => process.stop()), ...this.#busy.values()]);
    this.#changes.complete();
  }
}
