// AppSupervisor: makes the set of supervised local processes match the desired apps (the stand-alone
// store plus, in cluster mode, what the TopologyApplier places here). One AppProcess per desired app;
// a changed spec is handed to it, a vanished app is stopped. The processes themselves handle restarts.
import { isDeepStrictEqual } from 'node:util';
import { Subject, type Observable } from 'rxjs';
import type { AppSpec } from '../api/app.js';
import { AppProcess, type AppProcessDeps, type AppStatus, type OutputChunk } from '../src/process/index.js';
import type { Reconciler } from '../src/runtime/reconciler.js';

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
}

export class AppSupervisor implements Reconciler {
  readonly #processes = new Map<string, { process: AppProcess; owner: AppOwner }>();
  readonly #changes = new Subject<string>();

  /** The name of an app whenever its status changed (started, exited, health flipped, stopped). */
  readonly changes: Observable<string> = this.#changes.asObservable();

  constructor(private readonly deps: AppSupervisorDeps) {}

  async reconcile(name: string): Promise<void> {
    const want = this.deps.desired().get(name);
    const have = this.#processes.get(name);
    if (want === undefined) {
      if (have === undefined) return;
      this.#processes.delete(name);
      await have.process.stop();
      this.#changes.next(name);
      return;
    }
    if (have === undefined) {
      this.#launch(name, want);
      return;
    }
    have.owner = want.owner;
    if (!isDeepStrictEqual(have.process.spec, want.spec)) await have.process.update(want.spec);
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
    return this.#processes.get(name)?.process.status();
  }

  output(name: string, fromOffset?: number): OutputChunk | undefined {
    return this.#processes.get(name)?.process.output(fromOffset);
  }

  healthy(name: string): boolean | undefined {
    return this.#processes.get(name)?.process.healthy();
  }

  /** Restart now (an imperative action, not desired state). False when the app is not supervised. */
  async restart(name: string): Promise<boolean> {
    const entry = this.#processes.get(name);
    if (!entry) return false;
    await entry.process.restart();
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
    return [...counts.values()];
  }

  /** Stop every process (agent shutdown). */
  async stopAll(): Promise<void> {
    const all = [...this.#processes.values()];
    this.#processes.clear();
    await Promise.all(all.map(({ process }) => process.stop()));
    this.#changes.complete();
  }
}
