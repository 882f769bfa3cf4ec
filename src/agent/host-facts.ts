// Facts about this host for its node report: the default labels (HOST_NAME, arch, os_version) that task
// conditions match, and the resources the scheduler places by. Memory is rounded down to 64 MiB so the
// report, and with it the node key in Consul, does not change with every page the kernel frees.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { NodeResource } from '../../api/cluster.js';

export const MEMORY_GRANULARITY_BYTES = 64 * 1024 * 1024;

/** The parts of `node:os` read here; tests pass a fake. */
export interface HostOs {
  hostname(): string;
  machine(): string;
  platform(): string;
  release(): string;
  availableParallelism(): number;
  totalmem(): number;
  freemem(): number;
}

/** `value` rounded down to a multiple of `step`. */
export function roundDown(value: number, step: number): number {
  if (!(step > 0)) throw new RangeError(`roundDown: step must be > 0, got ${step}`);
  return Math.floor(value / step) * step;
}

/** The fields of an os-release(5) file: `KEY=value` lines, values optionally quoted. */
export function parseOsRelease(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^\s*([A-Z0-9_]+)=(.*?)\s*$/.exec(line);
    if (match === null) continue;
    const [, key = '', raw = ''] = match;
    const quoted = /^(["'])(.*)\1$/.exec(raw);
    fields[key] = (quoted?.[2] ?? raw).replace(/\\(["'$`\\])/g, '$1');
  }
  return fields;
}

/**
 * The distribution and its version, e.g. `ubuntu22.04` (os-release ID + VERSION_ID); without an
 * os-release file, the platform and kernel release, e.g. `darwin23.4.0`.
 */
export function osVersion(platform: string, release: string, osReleaseText: string | undefined): string {
  if (osReleaseText !== undefined) {
    const fields = parseOsRelease(osReleaseText);
    const id = fields['ID'];
    if (id !== undefined && id !== '') return `${id}${fields['VERSION_ID'] ?? ''}`;
  }
  return `${platform}${release}`;
}

/** The os-release file's text (the /etc one, else the /usr/lib one), or undefined when there is none. */
export function readOsRelease(): string | undefined {
  for (const path of ['/etc/os-release', '/usr/lib/os-release']) {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      // Not there (or unreadable): try the next one, then fall back to the kernel release.
    }
  }
  return undefined;
}

/** The labels every node carries; configured labels are merged over them by the agent. */
export function hostLabels(
  host: HostOs = os,
  osReleaseText: string | undefined = readOsRelease(),
): Record<string, string> {
  return {
    HOST_NAME: host.hostname(),
    // `x86_64` / `aarch64` as uname -m says, which is what App Mesh conditions use (not Node's `x64`).
    arch: host.machine(),
    os_version: osVersion(host.platform(), host.release(), osReleaseText),
  };
}

/** CPU count and memory, rounded down to MEMORY_GRANULARITY_BYTES. */
export function hostResources(host: HostOs = os): NodeResource {
  return {
    cpu_cores: host.availableParallelism(),
    mem_total_bytes: roundDown(host.totalmem(), MEMORY_GRANULARITY_BYTES),
    mem_free_bytes: roundDown(host.freemem(), MEMORY_GRANULARITY_BYTES),
  };
}

/** Free memory must move at least this much before a steady reader reports a new value: 5 % of the total, at least 256 MiB. */
export function freeMemoryHysteresisBytes(totalBytes: number): number {
  return Math.max(4 * MEMORY_GRANULARITY_BYTES, roundDown(totalBytes / 20, MEMORY_GRANULARITY_BYTES));
}

/**
 * hostResources for the node report, with hysteresis on free memory: the value reported last stays until
 * free memory moved by freeMemoryHysteresisBytes. Free memory drifts across 64 MiB steps all the time,
 * and each new value would rewrite the report and wake every watch of the nodes prefix (the leader's
 * scheduler among them); the scheduler places by total memory, so free memory is only informational.
 */
export function steadyHostResources(host: HostOs = os): () => NodeResource {
  let reported: NodeResource | undefined;
  return () => {
    const now = hostResources(host);
    const keep =
      reported !== undefined &&
      reported.cpu_cores === now.cpu_cores &&
      reported.mem_total_bytes === now.mem_total_bytes &&
      Math.abs(now.mem_free_bytes - reported.mem_free_bytes) < freeMemoryHysteresisBytes(now.mem_total_bytes);
    if (!keep) reported = now;
    return reported ?? now;
  };
}
