// Builds bench/REPORT.md (and SVG charts beside it) from the result files the benchmarks wrote to
// bench/results/*.json. It computes nothing new: every figure in the report is one a benchmark measured.
// Run: node dist/hack/bench/report.js   (make bench runs it last)
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT, RESULTS_DIR, type BenchResult } from './results.js';

const REPORT = join(REPO_ROOT, 'bench', 'REPORT.md');
const CHARTS = join(REPO_ROOT, 'bench', 'charts');

type Row = readonly (string | number)[];

function table(header: Row, rows: readonly Row[]): string {
  const line = (cells: Row) => `| ${cells.map(String).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A figure as the report prints it: summaries as p50/p95/p99, numbers rounded, the rest as JSON. */
function describe(value: unknown): string {
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : value.toFixed(1);
  if (isRecord(value) && 'p50' in value && 'n' in value) {
    const s = value as Record<string, number>;
    return `p50 ${s['p50']} / p95 ${s['p95']} / p99 ${s['p99']} (min ${s['min']}, max ${s['max']}, n=${s['n']})`;
  }
  return `\`${JSON.stringify(value)}\``;
}

/** Flattens nested figures into `a.b.c` rows, stopping at summaries and arrays. */
function flatten(prefix: string, value: unknown, rows: Array<[string, string]>): void {
  if (isRecord(value) && !('p50' in value && 'n' in value)) {
    for (const [key, inner] of Object.entries(value)) flatten(prefix ? `${prefix}.${key}` : key, inner, rows);
    return;
  }
  if (Array.isArray(value)) return; // arrays get their own tables or charts below
  rows.push([prefix, describe(value)]);
}

/** A horizontal bar chart as SVG: one bar per label, value in ms (log scale when values span > 100x). */
function barChart(title: string, bars: ReadonlyArray<{ label: string; value: number }>): string {
  const width = 720;
  const rowHeight = 26;
  const left = 190;
  const height = 40 + bars.length * rowHeight;
  const values = bars.map((b) => Math.max(b.value, 0.1));
  const max = Math.max(...values);
  const min = Math.min(...values);
  const log = max / min > 100;
  const scale = (v: number) =>
    log
      ? (Math.log10(Math.max(v, 0.1) / (min / 2)) / Math.log10(max / (min / 2))) * (width - left - 90)
      : (v / max) * (width - left - 90);
  const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const rows = bars
    .map((bar, i) => {
      const y = 30 + i * rowHeight;
      const w = Math.max(1, scale(bar.value));
      return [
        `<text x="${left - 8}" y="${y + 15}" text-anchor="end" font-size="12">${escape(bar.label)}</text>`,
        `<rect x="${left}" y="${y + 3}" width="${w.toFixed(1)}" height="16" fill="#4c78a8"/>`,
        `<text x="${left + w + 6}" y="${y + 15}" font-size="12">${bar.value.toFixed(bar.value < 10 ? 1 : 0)} ms</text>`,
      ].join('');
    })
    .join('\n');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="18" font-size="14" font-weight="bold">${escape(title)}${log ? ' (log scale)' : ''}</text>`,
    rows,
    `</svg>`,
  ].join('\n');
}

async function loadResults(): Promise<BenchResult[]> {
  let files: string[];
  try {
    files = (await readdir(RESULTS_DIR)).filter((f) => f.endsWith('.json')).sort();
  } catch {
    return [];
  }
  const results: BenchResult[] = [];
  for (const file of files)
    results.push(JSON.parse(await readFile(join(RESULTS_DIR, file), 'utf8')) as BenchResult);
  return results;
}

/** Charts for the figures that have a natural picture; each returns [file, markdown] or nothing. */
function charts(result: BenchResult): Array<[string, string, string]> {
  const made: Array<[string, string, string]> = [];
  const growth = result.figures['growth'];
  if (result.name === 'schedule' && Array.isArray(growth)) {
    const bars = growth.filter(isRecord).map((row) => ({
      label: `${String(row['tasks'])} tasks × ${String(row['nodes'])} nodes`,
      value: Number(row['ms']),
    }));
    made.push(['schedule-growth.svg', barChart('schedule(): full placement time', bars), 'Scheduler growth']);
  }
  const convergence = result.figures['convergence'];
  if (result.name === 'cluster' && isRecord(convergence)) {
    const bars: Array<{ label: string; value: number }> = [];
    for (const [what, summary] of Object.entries(convergence)) {
      if (!isRecord(summary)) continue;
      for (const p of ['p50', 'p95', 'p99']) bars.push({ label: `${what} ${p}`, value: Number(summary[p]) });
    }
    const polling = result.figures['polling'];
    if (isRecord(polling) && isRecord(polling['running'])) {
      for (const p of ['p50', 'p95', 'p99'])
        bars.push({ label: `polling running ${p}`, value: Number(polling['running'][p]) });
    }
    if (bars.length > 0)
      made.push(['convergence.svg', barChart('apply → running / passing', bars), 'Convergence']);
  }
  return made;
}

const results = await loadResults();
await mkdir(CHARTS, { recursive: true });
const sections: string[] = [];
for (const result of results) {
  const rows: Array<[string, string]> = [];
  flatten('', result.figures, rows);
  const parts = [
    `## ${result.name}`,
    '',
    `Command: \`${result.command}\` — measured ${result.measuredAt}.`,
    '',
  ];
  if (rows.length > 0) parts.push(table(['figure', 'value (ms unless named otherwise)'], rows), '');
  for (const [key, value] of Object.entries(result.figures)) {
    if (!Array.isArray(value) || value.length === 0 || !value.every(isRecord)) continue;
    const columns = Object.keys(value[0] as Record<string, unknown>);
    parts.push(
      `${key}:`,
      '',
      table(
        columns,
        value.map((row) => columns.map((c) => describe(row[c]))),
      ),
      '',
    );
  }
  for (const [file, svg, title] of charts(result)) {
    await writeFile(join(CHARTS, file), `${svg}\n`);
    parts.push(`![${title}](charts/${file})`, '');
  }
  if (result.notes && result.notes.length > 0) parts.push(...result.notes.map((n) => `- ${n}`), '');
  sections.push(parts.join('\n'));
}

const machine = results[0]?.machine;
const header = [
  '# appmesh benchmark report',
  '',
  'Generated by `make bench` (`hack/bench/*.ts`, then `hack/bench/report.ts`) from the result files in',
  '`bench/results/`. Every figure was measured by the benchmark named in its section; rerun the command to',
  'reproduce it. All processes ran on one machine, on loopback.',
  '',
  machine
    ? `Machine: ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB; Node ${machine.node}; Consul ${machine.consul ?? 'n/a'}.`
    : 'No results yet: run `make bench`.',
  '',
];
await writeFile(REPORT, `${[...header, ...sections].join('\n').trimEnd()}\n`);
console.log(`wrote ${REPORT} from ${results.length} result file(s)`);
