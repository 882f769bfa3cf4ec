// Dynamic ports: a task with `dynamicPort: true` gets a port from this node's range, chosen once and kept
// while the task is placed here, so its PORT (and its service) never moves under a running app. A port is
// free when no other dynamic task here holds it, nothing on the host listens on it, and no other agent on
// the host has claimed it: agents on one host coordinate through a lock file per port (HostPortLocks).
import { mkdirSync, readFileSync, renameSync, linkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseProcStat } from '../../src/process/proc-stat.js';

export interface PortRange {
  readonly from: number;
  readonly to: number;
}

export const DEFAULT_DYNAMIC_PORT_RANGE: PortRange = { from: 20000, to: 32000 };

/** TCP ports something on this host listens on (Linux /proc; empty elsewhere). */
export function listeningPorts(): Set<number> {
  const ports = new Set<number>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue; // no IPv6, or not Linux: the allocator then relies on its own bookkeeping
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // st 0A = LISTEN; local_address is HEXIP:HEXPORT.
      if (fields[3] !== '0A') continue;
      const port = Number.parseInt(fields[1]?.split(':')[1] ?? '', 16);
      if (Number.isInteger(port)) ports.add(port);
    }
  }
  return ports;
}

/**
 * Host-wide claims on ports, shared by every agent on the host. `claim` is atomic across processes;
 * a claim outlives a crashed agent but is taken over once its holder is gone.
 */
export interface PortClaims {
  /** Claims `port` for this process; false when another live process holds it. */
  claim(port: number, task: string): boolean;
  /** Gives back a claim of this process (no-op for claims it does not hold). */
  release(port: number): void;
  /** The last problem with the shared directory (claims then fall back to this agent's own bookkeeping). */
  readonly problem: string | undefined;
}

/**
 * Where agents on this host keep their port claims: `APPMESH_PORT_LOCK_DIR`, else `/run/appmesh/ports` for
 * root, `$XDG_RUNTIME_DIR/appmesh/ports`, or `<tmpdir>/appmesh-<uid>/ports`. Agents coordinate only when
 * they share it: agents of one user (or all as root) do by default.
 */
export function defaultPortLockDir(env: NodeJS.ProcessEnv = process.env): string {
  const configured = env['APPMESH_PORT_LOCK_DIR'];
  if (configured !== undefined && configured !== '') return configured;
  const uid = process.getuid?.();
  if (uid === 0) return '/run/appmesh/ports';
  const runtime = env['XDG_RUNTIME_DIR'];
  if (runtime !== undefined && runtime !== '') return join(runtime, 'appmesh', 'ports');
  return join(tmpdir(), `appmesh-${uid ?? 'user'}`, 'ports');
}

/** A claim's holder: pid plus its kernel start time, so a reused pid never passes for a live holder. */
export interface ClaimHolder {
  readonly pid: number;
  readonly startTime: number;
}
type Holder = ClaimHolder;

/** The holder identity of a live process; undefined when it is gone. */
export function holderOf(pid: number): ClaimHolder | undefined {
  const startTime = startTimeOf(pid);
  return startTime === undefined ? undefined : { pid, startTime };
}

function startTimeOf(pid: number): number | undefined {
  try {
    const stat = parseProcStat(pid, readFileSync(`/proc/${pid}/stat`, 'utf8'));
    return stat === undefined || stat.state === 'Z' ? undefined : stat.startTime;
  } catch {
    return undefined; // gone
  }
}

function readHolder(path: string): Holder | undefined {
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const { pid, startTime } = parsed as Record<string, unknown>;
    return typeof pid === 'number' && typeof startTime === 'number' ? { pid, startTime } : undefined;
  } catch {
    return undefined; // gone, or not a claim we can read: treated as stale
  }
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  return typeof error.code === 'string' ? error.code : undefined;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Port claims as files `<dir>/<port>`, created exclusively and holding the claimer's pid and start time.
 * A claim whose holder is gone (or unreadable) is taken over: renamed aside first, so of two agents
 * taking over the same stale claim only one wins, and a live claim renamed by mistake is put back.
 */
export class HostPortLocks implements PortClaims {
  readonly #self: Holder;
  readonly #held = new Set<number>();
  #problem: string | undefined;
  #dirReady = false;

  constructor(
    readonly dir: string = defaultPortLockDir(),
    self: ClaimHolder = holderOf(process.pid) ?? { pid: process.pid, startTime: 0 },
  ) {
    this.#self = self;
  }

  get problem(): string | undefined {
    return this.#problem;
  }

  claim(port: number, task: string): boolean {
    const path = join(this.dir, String(port));
    const content = `${JSON.stringify({ ...this.#self, task })}\n`;
    try {
      if (!this.#dirReady) {
        mkdirSync(this.dir, { recursive: true, mode: 0o700 });
        this.#dirReady = true;
      }
      // Two rounds: the second follows the take-over of a stale claim.
      for (let round = 0; round < 2; round++) {
        if (this.#create(path, content)) {
          this.#held.add(port);
          this.#problem = undefined;
          return true;
        }
        const holder = readHolder(path);
        if (holder !== undefined && this.#isSelf(holder)) {
          this.#held.add(port);
          return true;
        }
        if (holder !== undefined && startTimeOf(holder.pid) === holder.startTime) return false;
        if (!this.#takeOver(path, holder)) return false;
      }
      return false;
    } catch (error) {
      // The directory is not usable (permissions, read-only): fall back to this agent's own bookkeeping and
      // the listening-socket check, and say so (the applier logs it).
      this.#problem = `port claims in ${this.dir} failed (${errorMessage(error)}); agents on this host may hand out the same port: set APPMESH_PORT_LOCK_DIR to a directory they can all write`;
      return true;
    }
  }

  release(port: number): void {
    if (!this.#held.delete(port)) return;
    const path = join(this.dir, String(port));
    const holder = readHolder(path);
    if (holder === undefined || !this.#isSelf(holder)) return; // taken over meanwhile: not ours to remove
    try {
      unlinkSync(path);
    } catch {
      // Already gone; nothing to give back.
    }
  }

  /** Gives back every claim of this process (the agent stops). */
  releaseAll(): void {
    for (const port of [...this.#held]) this.release(port);
  }

  /**
   * Creates the claim file only if none exists, with its content complete from the first moment (written
   * aside, then hard-linked into place: link fails with EEXIST like O_EXCL), so a reader never sees it empty.
   */
  #create(path: string, content: string): boolean {
    const fresh = `${path}.new-${this.#self.pid}`;
    writeFileSync(fresh, content, { mode: 0o600 });
    try {
      linkSync(fresh, path);
      return true;
    } catch (error) {
      if (errorCode(error) === 'EEXIST') return false;
      throw error;
    } finally {
      unlinkSync(fresh);
    }
  }

  #isSelf(holder: Holder): boolean {
    return holder.pid === this.#self.pid && holder.startTime === this.#self.startTime;
  }

  /** Moves a stale claim aside; false when what was moved turned out to be someone's fresh claim. */
  #takeOver(path: string, stale: Holder | undefined): boolean {
    const aside = `${path}.stale-${this.#self.pid}`;
    try {
      renameSync(path, aside);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return true; // someone else removed it: try to create
      throw error;
    }
    const moved = readHolder(aside);
    const same = moved?.pid === stale?.pid && moved?.startTime === stale?.startTime;
    if (!same && moved !== undefined && startTimeOf(moved.pid) === moved.startTime) {
      // Another agent's claim made after we looked: put it back (link fails if yet another claim exists).
      try {
        linkSync(aside, path);
      } catch {
        // A third claim is in place; the moved one's holder keeps the port in its own bookkeeping.
      }
      unlinkSync(aside);
      return false;
    }
    unlinkSync(aside);
    return true;
  }
}

/** Claims that only this agent's own bookkeeping enforces (tests, or hosts with one agent). */
export const noHostClaims: PortClaims = { claim: () => true, release: () => undefined, problem: undefined };

/** A stable starting point per task, so the same task tends to get the same port across restarts. */
function hashOf(text: string): number {
  let hash = 2166136261;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 16777619) >>> 0;
  return hash;
}

export class DynamicPortAllocator {
  readonly #held = new Map<string, number>();
  /**
   * Ports found taken by another process after they were handed out, avoided by the next choice. Bounded
   * by the range; emptied whenever no task holds a port here.
   */
  readonly #avoid = new Set<number>();

  constructor(
    private readonly range: PortRange = DEFAULT_DYNAMIC_PORT_RANGE,
    private readonly inUse: () => ReadonlySet<number> = listeningPorts,
    readonly claims: PortClaims = new HostPortLocks(),
  ) {
    if (!(
      Number.isInteger(range.from) &&
      Number.isInteger(range.to) &&
      range.from >= 1 &&
      range.to <= 65535 &&
      range.from <= range.to
    )) {
      throw new RangeError(`dynamic port range ${range.from}-${range.to}: expected 1 <= from <= to <= 65535`);
    }
  }

  /** The task's port: the one it holds, else a newly chosen free one; undefined when the range is full. */
  portFor(task: string): number | undefined {
    const held = this.#held.get(task);
    if (held !== undefined) return held;
    const size = this.range.to - this.range.from + 1;
    const taken = new Set([...this.#held.values(), ...this.inUse(), ...this.#avoid]);
    const start = hashOf(task) % size;
    for (let i = 0; i < size; i++) {
      const port = this.range.from + ((start + i) % size);
      if (taken.has(port) || !this.claims.claim(port, task)) continue;
      this.#held.set(task, port);
      return port;
    }
    return undefined;
  }

  /** The port the task holds, if any (without choosing one). */
  heldBy(task: string): number | undefined {
    return this.#held.get(task);
  }

  /**
   * The task's port turned out to be taken by another process: drop it and choose another at the next
   * portFor. The old port is avoided while the task is placed here (so it does not come straight back).
   */
  replace(task: string): void {
    const held = this.#held.get(task);
    if (held === undefined) return;
    this.#held.delete(task);
    this.claims.release(held);
    this.#avoid.add(held);
  }

  /** Gives back the ports of tasks no longer placed here. */
  keepOnly(tasks: ReadonlySet<string>): void {
    for (const [task, port] of this.#held) {
      if (tasks.has(task)) continue;
      this.#held.delete(task);
      this.claims.release(port);
    }
    if (this.#held.size === 0) this.#avoid.clear();
  }

  /** Gives back every port (the agent stops; its apps stop with it). */
  releaseAll(): void {
    this.keepOnly(new Set());
  }
}
