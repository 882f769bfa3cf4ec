// Benchmark: 200 local `sleep` apps under one stand-alone agent. Prints the latency from
// `PUT /appmesh/app/<name>` to the agent reporting the process running (p50/p99), then the agent's
// RSS and CPU while idle with all 200 running. Numbers are printed, not asserted.
// Run: make bench   (or: node dist/hack/bench/local-apps.js [count])
import { readFile } from 'node:fs/promises';
import { request } from 'undici';
import {
  authHeaders,
  makeDataDir,
  pidsRunning,
  removeDataDir,
  startAgent,
} from '../../test/fixtures/agent.js';
import { percentile, summarize, writeResult } from './results.js';

const COUNT = Number(process.argv[2] ?? 200);
const IDLE_WINDOW_MS = 10_000;
const CLOCK_TICKS = 100; // USER_HZ on Linux

async function json(
  url: string,
  method: 'GET' | 'PUT' = 'GET',
  body?: unknown,
): Promise<{ status: number; data: unknown }> {
  const response = await request(url, {
    method,
    headers: { ...authHeaders(agent), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? null : JSON.stringify(body),
  });
  const text = await response.body.text();
  return { status: response.statusCode, data: text ? (JSON.parse(text) as unknown) : undefined };
}

async function cpuTicks(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? [];
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

const dataDir = await makeDataDir();
const agent = await startAgent({ dataDir, env: { APPMESH_LOG_LEVEL: 'warn' } });
try {
  const latencies: number[] = [];
  const deadline = Date.now() + 5 * 60_000;
  for (let i = 0; i < COUNT; i++) {
    const name = `bench-${i}`;
    const started = performance.now();
    const put = await json(`${agent.url}/appmesh/app/${name}`, 'PUT', { command: `sleep ${100000 + i}` });
    if (put.status !== 201) throw new Error(`PUT ${name}: ${put.status} ${JSON.stringify(put.data)}`);
    for (;;) {
      const view = (await json(`${agent.url}/appmesh/app/${name}`)).data as { state?: string; pid?: number };
      if (view.state === 'running' && view.pid) break;
      if (Date.now() > deadline) throw new Error(`${name} did not start within the benchmark's time bound`);
      await new Promise((r) => setTimeout(r, 2));
    }
    latencies.push(performance.now() - started);
  }
  latencies.sort((a, b) => a - b);

  await new Promise((r) => setTimeout(r, 2_000)); // let start-up work settle
  const ticksBefore = await cpuTicks(agent.pid);
  await new Promise((r) => setTimeout(r, IDLE_WINDOW_MS));
  const ticksAfter = await cpuTicks(agent.pid);
  const cpuPercent = ((ticksAfter - ticksBefore) / CLOCK_TICKS / (IDLE_WINDOW_MS / 1000)) * 100;
  const rss = await rssBytes(agent.pid);
  const alive = (await pidsRunning(['sleep', String(100000)])).length;

  console.log(`local-apps benchmark: ${COUNT} sleep apps under one agent (node ${process.version})`);
  console.log(
    `  PUT -> running  p50 ${percentile(latencies, 50).toFixed(1)} ms  p99 ${percentile(latencies, 99).toFixed(1)} ms  max ${(latencies[latencies.length - 1] ?? NaN).toFixed(1)} ms`,
  );
  console.log(
    `  idle agent      RSS ${(rss / 1024 / 1024).toFixed(1)} MiB  CPU ${cpuPercent.toFixed(2)} % of one core over ${IDLE_WINDOW_MS / 1000} s`,
  );
  console.log(`  sanity          bench-0 running: ${alive === 1 ? 'yes' : 'NO'}`);
  await writeResult({
    name: 'local-apps',
    command: `node dist/hack/bench/local-apps.js ${COUNT}`,
    figures: {
      apps: COUNT,
      putToRunningMs: summarize(latencies),
      idleRssMiB: Math.round((rss / 1024 / 1024) * 10) / 10,
      idleCpuPercentOfOneCore: Math.round(cpuPercent * 100) / 100,
    },
    notes: [
      'PUT /appmesh/app/<name> to the agent reporting the process running (polled every 2 ms), apps put one at a time.',
      `Idle figures over ${IDLE_WINDOW_MS / 1000} s with all apps running, 2 s after the last start.`,
    ],
  });
} finally {
  await agent.stop('SIGTERM');
  await removeDataDir(dataDir);
}
