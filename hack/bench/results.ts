// Shared by the benchmarks: percentiles, the machine they ran on, and the JSON each one writes to
// bench/results/<name>.json so hack/bench/report.ts can build bench/REPORT.md from measured figures only.
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

/** The repo root (this file compiles to dist/hack/bench/results.js). */
export const REPO_ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
export const RESULTS_DIR = join(REPO_ROOT, 'bench', 'results');

/** The p-th percentile (nearest rank) of ascending `sorted` values; NaN for none. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

/** p50/p95/p99/min/max of unsorted samples, rounded to 0.1. */
export function summarize(
  samples: readonly number[],
): Record<'n' | 'min' | 'p50' | 'p95' | 'p99' | 'max', number> {
  const sorted = [...samples].sort((a, b) => a - b);
  const round = (v: number) => Math.round(v * 10) / 10;
  return {
    n: sorted.length,
    min: round(sorted[0] ?? NaN),
    p50: round(percentile(sorted, 50)),
    p95: round(percentile(sorted, 95)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted[sorted.length - 1] ?? NaN),
  };
}

export interface Machine {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly node: string;
  readonly consul: string | undefined;
}

export async function machine(): Promise<Machine> {
  let consul: string | undefined;
  const bin = process.env['CONSUL_BIN'];
  if (bin) {
    const result = await execa(bin, ['version'], { reject: false });
    consul = /Consul v(\S+)/.exec(result.stdout)?.[1];
  }
  return {
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    consul,
  };
}

/** A result file: what was measured, how (the command), on what, and the figures. */
export interface BenchResult {
  readonly name: string;
  readonly command: string;
  readonly measuredAt: string;
  readonly machine: Machine;
  /** Named figures; every number is a measurement of this run. */
  readonly figures: Readonly<Record<string, unknown>>;
  /** Optional notes on method and caveats, shown in the report. */
  readonly notes?: readonly string[];
}

export async function writeResult(result: Omit<BenchResult, 'measuredAt' | 'machine'>): Promise<string> {
  await mkdir(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, `${result.name}.json`);
  const full: BenchResult = { ...result, measuredAt: new Date().toISOString(), machine: await machine() };
  await writeFile(path, `${JSON.stringify(full, null, 2)}\n`);
  return path;
}
