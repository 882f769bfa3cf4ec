// Dynamic ports: a task with `dynamicPort: true` gets a port from this node's range, chosen once and kept
// while the task is placed here, so its PORT (and its service) never moves under a running app. A port is
// free when no other dynamic task here holds it and nothing on the host listens on it.
import { readFileSync } from 'node:fs';

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

/** A stable starting point per task, so the same task tends to get the same port across restarts. */
function hashOf(text: string): number {
  let hash = 2166136261;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 16777619) >>> 0;
  return hash;
}

export class DynamicPortAllocator {
  readonly #held = new Map<string, number>();

  constructor(
    private readonly range: PortRange = DEFAULT_DYNAMIC_PORT_RANGE,
    private readonly inUse: () => ReadonlySet<number> = listeningPorts,
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
    const taken = new Set([...this.#held.values(), ...this.inUse()]);
    const start = hashOf(task) % size;
    for (let i = 0; i < size; i++) {
      const port = this.range.from + ((start + i) % size);
      if (taken.has(port)) continue;
      this.#held.set(task, port);
      return port;
    }
    return undefined;
  }

  /** Gives back the ports of tasks no longer placed here. */
  keepOnly(tasks: ReadonlySet<string>): void {
    for (const task of this.#held.keys()) if (!tasks.has(task)) this.#held.delete(task);
  }
}
