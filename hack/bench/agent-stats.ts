// What the fleet and idle benchmarks read about a running agent: its Consul request counters and memory
// gauges from `/metrics`, its CPU time and RSS from /proc, and the `sleep` apps a run started (found in
// one /proc scan, so hundreds of them are cleaned up without a scan each).
import { readdir, readFile } from 'node:fs/promises';
import { request } from 'undici';
import type { Consul } from '../../src/consul/consul.js';
import type { AgentProcess } from '../../test/fixtures/agent.js';

/** USER_HZ on Linux: /proc/<pid>/stat counts CPU time in these ticks. */
const CLOCK_TICKS_PER_SECOND = 100;
/** Generous: on a loaded host a busy agent may take seconds to render its metrics. */
const HTTP_TIMEOUT_MS = 30_000;

/** One sample line of the Prometheus text format. */
export interface MetricSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Parses the Prometheus text format (enough of it for prom-client's output: no escaped quotes in labels). */
export function parseMetrics(text: string): MetricSample[] {
  const samples: MetricSample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([A-Za-z_:][\w:]*)(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!match?.[1] || match[3] === undefined) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)) {
      if (pair[1] !== undefined && pair[2] !== undefined) labels[pair[1]] = pair[2];
    }
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

export async function scrapeMetrics(agentUrl: string): Promise<MetricSample[]> {
  const response = await request(`${agentUrl}/metrics`, {
    headersTimeout: HTTP_TIMEOUT_MS,
    bodyTimeout: HTTP_TIMEOUT_MS,
  });
  const text = await response.body.text();
  if (response.statusCode !== 200) throw new Error(`GET ${agentUrl}/metrics answered ${response.statusCode}`);
  return parseMetrics(text);
}

/**
 * Completed Consul requests from `appmesh_consul_requests_total`, by `METHOD endpoint` (codes summed), or
 * by status code (`0` = no response).
 */
export function consulRequestsBy(
  samples: readonly MetricSample[],
  by: 'endpoint' | 'code' = 'endpoint',
): Map<string, number> {
  const counts = new Map<string, number>();
  for (const sample of samples) {
    if (sample.name !== 'appmesh_consul_requests_total') continue;
    const key =
      by === 'code'
        ? (sample.labels['code'] ?? '?')
        : `${sample.labels['method'] ?? '?'} ${sample.labels['endpoint'] ?? '?'}`;
    counts.set(key, (counts.get(key) ?? 0) + sample.value);
  }
  return counts;
}

/** `after - before` per key, dropping keys that did not move. */
export function countsBetween(
  before: ReadonlyMap<string, number>,
  after: ReadonlyMap<string, number>,
): Map<string, number> {
  const delta = new Map<string, number>();
  for (const [key, value] of after) {
    const moved = value - (before.get(key) ?? 0);
    if (moved !== 0) delta.set(key, moved);
  }
  return delta;
}

export function total(counts: ReadonlyMap<string, number>): number {
  let sum = 0;
  for (const value of counts.values()) sum += value;
  return sum;
}

/** The value of a label-less gauge such as `appmesh_nodejs_heap_size_used_bytes`; NaN if absent. */
export function gauge(samples: readonly MetricSample[], name: string): number {
  return samples.find((s) => s.name === name && Object.keys(s.labels).length === 0)?.value ?? NaN;
}

/** What one agent had done by the time of a snapshot. */
export interface AgentSnapshot {
  readonly samples: readonly MetricSample[];
  /** Completed Consul requests by `METHOD endpoint`. */
  readonly requests: ReadonlyMap<string, number>;
  /** Completed Consul requests by status code. */
  readonly codes: ReadonlyMap<string, number>;
  /** CPU seconds so far. */
  readonly cpu: number;
  readonly memory: ResidentMemory;
}

/** Snapshots of every agent, taken concurrently, by node name. */
export async function snapshotAgents(
  agents: ReadonlyMap<string, AgentProcess>,
): Promise<Map<string, AgentSnapshot>> {
  const entries = await Promise.all(
    [...agents].map(async ([node, agent]) => {
      const [samples, cpu, memory] = await Promise.all([
        scrapeMetrics(agent.url),
        cpuSeconds(agent.pid),
        residentMemory(agent.pid),
      ]);
      const snapshot: AgentSnapshot = {
        samples,
        requests: consulRequestsBy(samples),
        codes: consulRequestsBy(samples, 'code'),
        cpu,
        memory,
      };
      return [node, snapshot] as const;
    }),
  );
  return new Map(entries);
}

/**
 * Per app, how many node reports (`<prefix>/cluster/nodes/<node>`, their `apps` maps) list it as a running,
 * cluster-owned app: one recursive KV read.
 */
export async function runningReplicas(consul: Consul, prefix = 'appmesh'): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const entry of (await consul.kv.list(`${prefix}/cluster/nodes/`)).value) {
    if (!entry.value) continue;
    const report = JSON.parse(entry.value) as { apps?: Record<string, { owner?: string; state?: string }> };
    for (const [app, summary] of Object.entries(report.apps ?? {})) {
      if (summary.owner === 'cluster' && summary.state === 'running')
        counts.set(app, (counts.get(app) ?? 0) + 1);
    }
  }
  return counts;
}

/** User plus system CPU time the process has used so far, in seconds (children excluded). */
export async function cpuSeconds(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND; // utime + stime
}

/**
 * VmRSS and its two parts. File-backed pages are mostly the node binary's code and read-only data, the
 * same pages in every node process on the host; anonymous pages are the V8 heap, malloc'd memory
 * (buffers, native allocations, per-thread arenas), JIT code and stacks.
 */
export interface ResidentMemory {
  readonly rss: number;
  readonly anonymous: number;
  readonly fileBacked: number;
}

export async function residentMemory(pid: number): Promise<ResidentMemory> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: field('VmRSS'), anonymous: field('RssAnon'), fileBacked: field('RssFile') };
}

/** Live (non-zombie) `sleep <n>` processes with `from <= n < to`, in one /proc scan. */
export async function sleepsInRange(from: number, to: number): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).replace(/\0$/, '').split('\0');
      if (argv.length !== 2 || argv[0] !== 'sleep' || !/^\d+$/.test(argv[1] ?? '')) continue;
      const seconds = Number(argv[1]);
      const state = (await readFile(`/proc/${entry}/stat`, 'utf8')).split(') ')[1]?.[0];
      if (seconds >= from && seconds < to && state !== 'Z') pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

/**
 * SIGKILLs what `sleepsInRange` finds, scanning again until none is left (a killed process lingers until
 * it is reaped) or `timeoutMs` passed. Returns how many it killed and how many are still there.
 */
export async function killSleepsInRange(
  from: number,
  to: number,
  timeoutMs = 10_000,
): Promise<{ killed: number; left: number }> {
  const killed = new Set<number>();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pids = await sleepsInRange(from, to);
    if (pids.length === 0 || Date.now() > deadline) return { killed: killed.size, left: pids.length };
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
        killed.add(pid);
      } catch {
        // already gone
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Established TCP connections whose local port is `port` (e.g. Consul's HTTP port), from /proc/net/tcp{,6}. */
export async function establishedConnections(port: number): Promise<number> {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  let count = 0;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = await readFile(table, 'utf8');
    } catch {
      continue; // no IPv6 table
    }
    for (const line of text.split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (state === '01' && local?.endsWith(`:${hexPort}`)) count++;
    }
  }
  return count;
}

export const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
