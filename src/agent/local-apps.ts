// The stand-alone app store: apps an operator put on this host through the REST API, persisted in
// <dataDir>/apps.json (written atomically) and streamed to the AppSupervisor as a desired-state map.
// A file that is not a JSON array, or holds two entries with one name, stops the agent at start (before
// any process is touched): guessing which entry was meant could run the wrong app.
import { join } from 'node:path';
import { isLeft } from 'fp-ts/lib/Either.js';
import { BehaviorSubject, type Observable } from 'rxjs';
import { decodeAppSpec, type AppSpec } from '../../api/app.js';
import { readFileIfExists, writeJsonAtomic } from '../core/atomic-file.js';
import type { Logger } from '../runtime/logger.js';
import { HttpError } from './http-server.js';

/**
 * Why the agent cannot take `spec` next to its other apps (output budget, exec_user), one line each;
 * `others` are the other apps this agent runs (local and cluster).
 */
export type AppAdmission = (spec: AppSpec) => readonly string[];

/** The entry's `name`, when it has a string one (also for entries that no longer decode). */
function nameOf(entry: unknown): string | undefined {
  if (typeof entry !== 'object' || entry === null) return undefined;
  const name = (entry as Record<string, unknown>)['name'];
  return typeof name === 'string' ? name : undefined;
}

export class LocalAppStore {
  readonly #path: string;
  readonly #apps: BehaviorSubject<ReadonlyMap<string, AppSpec>>;
  /** Entries of the file that no longer decode: kept and written back untouched, never lost. */
  readonly #unreadable: unknown[];
  #writes: Promise<void> = Promise.resolve();
  #admission: AppAdmission = () => [];

  private constructor(path: string, apps: Map<string, AppSpec>, unreadable: unknown[]) {
    this.#path = path;
    this.#apps = new BehaviorSubject<ReadonlyMap<string, AppSpec>>(apps);
    this.#unreadable = unreadable;
  }

  static async open(dataDir: string, logger: Logger): Promise<LocalAppStore> {
    const path = join(dataDir, 'apps.json');
    const text = await readFileIfExists(path);
    const apps = new Map<string, AppSpec>();
    const unreadable: unknown[] = [];
    if (text !== undefined) {
      let entries: unknown;
      try {
        entries = JSON.parse(text);
      } catch (err) {
        throw new Error(
          `${path} is not valid JSON (${(err as Error).message}); fix or move it, then start again`,
        );
      }
      if (!Array.isArray(entries)) throw new Error(`${path}: expected a JSON array of app specs`);
      const firstEntry = new Map<string, number>();
      for (const [i, entry] of entries.entries()) {
        const name = nameOf(entry);
        if (name === undefined) continue;
        const first = firstEntry.get(name);
        if (first !== undefined) {
          throw new Error(
            `${path}: entries ${first} and ${i} (counting from 0) are both named ${JSON.stringify(name)}; ` +
              'remove or rename one, then start again',
          );
        }
        firstEntry.set(name, i);
      }
      for (const [i, entry] of entries.entries()) {
        const decoded = decodeAppSpec(entry, `${path} [${i}]`);
        if (isLeft(decoded)) {
          logger.error('skipping an app that no longer decodes; it stays in the file', {
            error: decoded.left.message,
          });
          unreadable.push(entry);
        } else {
          apps.set(decoded.right.spec.name, decoded.right.spec);
        }
      }
    }
    return new LocalAppStore(path, apps, unreadable);
  }

  /** The desired local apps; replays the current map to each subscriber. */
  get apps(): Observable<ReadonlyMap<string, AppSpec>> {
    return this.#apps.asObservable();
  }

  get(name: string): AppSpec | undefined {
    return this.#apps.value.get(name);
  }

  list(): AppSpec[] {
    return [...this.#apps.value.values()];
  }

  /** Set once the agent can tell what else runs here; until then every app is admitted. */
  set admission(check: AppAdmission) {
    this.#admission = check;
  }

  /**
   * Add or replace an app; resolves once it is on disk. An app the agent cannot run next to the others
   * is refused with a 400 naming the reason (HttpError, so the REST API answers it as it is).
   */
  put(spec: AppSpec): Promise<void> {
    const problems = this.#admission(spec);
    if (problems.length > 0) {
      return Promise.reject(new HttpError(400, `app "${spec.name}" cannot run on this agent`, problems));
    }
    return this.#change((apps) => apps.set(spec.name, spec));
  }

  /** Remove an app; false if there was none. */
  async delete(name: string): Promise<boolean> {
    if (!this.#apps.value.has(name)) return false;
    await this.#change((apps) => apps.delete(name));
    return true;
  }

  /** Serialised read-modify-write: persist first, then publish, so a crash never shows a state not on disk. */
  #change(mutate: (apps: Map<string, AppSpec>) => void): Promise<void> {
    const next = this.#writes.then(async () => {
      const apps = new Map(this.#apps.value);
      mutate(apps);
      await writeJsonAtomic(this.#path, [...apps.values(), ...this.#unreadable]);
      this.#apps.next(apps);
    });
    this.#writes = next.catch(() => undefined);
    return next;
  }

  close(): void {
    this.#apps.complete();
  }
}
