// Benchmark: a stand-alone agent under hostile event-stream clients. 100 clients open
// `GET /appmesh/events` (with the token) and never read, replaced 10 a second so 100 stay open, while
// the agent's apps change all the time: 8 workers PUT and DELETE short-lived apps next to 100 running
// ones, and each apps event (the whole list, ~3 KB of metadata per app) is ~300 KB. Prints the agent's
// RSS (before, peak, after), the streams accepted/refused/dropped, the rates of app changes and of the
// supervisor's reconciles, and the API's latency meanwhile. Loopback only; bounded in connections
// (~300) and time (~60 s).
// Run: node dist/hack/bench/hostile-clients.js   (writes bench/results/hostile-clients.json)
//      node dist/hack/bench/hostile-clients.js 0 (the same load without the clients: printed only)
import { readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import {
  callAgent,
  makeDataDir,
  pidsRunning,
  removeDataDir,
  startAgent,
  type AgentProcess,
} from '../../test/fixtures/agent.js';
import { summarize, writeResult } from './results.js';

const APPS = 100;
const CLIENTS = Number(process.argv[2] ?? 100);
const REPLACED_PER_SECOND = 10;
const LOAD_MS = 20_000;
const CHURN_WORKERS = 8;
const SAMPLE_MS = 250;
/** The bound this benchmark states (and checks): peak RSS over the loaded baseline. */
const RSS_GROWTH_BOUND_MIB = 160;
const SLEEP_BASE = 970_000;

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

/** Sums the samples of one metric (the lines matching `line`) in the agent's /metrics. */
async function metricSum(agent: AgentProcess, line: RegExp): Promise<number> {
  const text = (await callAgent(agent, 'GET', '/metrics')).text;
  let total = 0;
  for (const sample of text.split('\n')) {
    if (line.test(sample)) total += Number(sample.slice(sample.lastIndexOf(' ') + 1)) || 0;
  }
  return total;
}
/** The app supervisor's reconciles (every change of the desired set reconciles every app). */
const reconciles = (agent: AgentProcess) =>
  metricSum(agent, /^(?:controller_runtime|appmesh)_reconcile_total\{controller="app-supervisor"/);
/** Process starts after each app's first: for a periodic app, one per run. */
const restarts = (agent: AgentProcess) => metricSum(agent, /^appmesh_app_restarts_total\{/);

interface Attacker {
  readonly socket: Socket;
  status: number | undefined;
}

/** Opens an event stream and never reads it (paused right after the status line). */
function openNonReader(agent: AgentProcess): Attacker {
  const { port } = new URL(agent.url);
  const socket = connect(Number(port), '127.0.0.1');
  const attacker: Attacker = { socket, status: undefined };
  const onData = (chunk: Buffer) => {
    socket.off('data', onData);
    socket.pause();
    attacker.status = Number(/^HTTP\/1\.1 (\d{3})/.exec(chunk.toString('latin1'))?.[1] ?? 0);
  };
  socket.on('data', onData);
  socket.on('error', () => undefined); // a dropped client sees a reset; that is the point
  socket.write(
    `GET /appmesh/events HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nauthorization: Bearer ${agent.token}\r\n\r\n`,
  );
  return attacker;
}

const dataDir = await makeDataDir();
const agent = await startAgent({ dataDir, env: { APPMESH_LOG_LEVEL: 'warn' } });
const attackers: Attacker[] = [];
const everyAttacker: Attacker[] = [];
try {
  // 100 running apps with ~3 KB of metadata each: every apps event is the whole list, ~300 KB.
  const metadata = { note: 'x'.repeat(3000) };
  for (let i = 0; i < APPS; i++) {
    const put = await callAgent(agent, 'PUT', `/appmesh/app/steady-${i}`, {
      command: `sleep ${SLEEP_BASE + i}`,
      metadata,
    });
    if (put.status !== 201) throw new Error(`PUT steady-${i}: ${put.status} ${put.text}`);
  }
  const settleDeadline = Date.now() + 60_000;
  for (;;) {
    const apps = JSON.parse((await callAgent(agent, 'GET', '/appmesh/applications')).text) as Array<{
      state: string;
    }>;
    if (apps.filter((a) => a.state === 'running').length === APPS) break;
    if (Date.now() > settleDeadline) throw new Error(`not all ${APPS} apps running within 60 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
  await new Promise((r) => setTimeout(r, 2_000));
  const rssIdle = await rssMiB(agent.pid);

  // The load: PUT then DELETE of short-lived apps, CHURN_WORKERS at a time, for LOAD_MS.
  const loadStarted = Date.now();
  const reconcilesBefore = await reconciles(agent);
  const restartsBefore = await restarts(agent);
  let mutations = 0;
  const latencies: number[] = [];
  const churn = async (worker: number) => {
    for (let n = 0; Date.now() - loadStarted < LOAD_MS; n++) {
      const name = `churn-${worker}-${n}`;
      const started = performance.now();
      await callAgent(agent, 'PUT', `/appmesh/app/${name}`, { command: `sleep ${SLEEP_BASE + 500 + worker}` });
      await callAgent(agent, 'DELETE', `/appmesh/app/${name}`);
      latencies.push((performance.now() - started) / 2);
      mutations += 2;
    }
  };
  const rssSamples: number[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling && agent.running()) {
      rssSamples.push(await rssMiB(agent.pid).catch(() => 0));
      await new Promise((r) => setTimeout(r, SAMPLE_MS));
    }
  })();
  // The attackers: 100 at once, then 10 a second replaced (oldest closed), so 100 stay open.
  for (let i = 0; i < CLIENTS; i++) attackers.push(openNonReader(agent));
  everyAttacker.push(...attackers);
  const replacer = setInterval(() => {
    for (let i = 0; i < Math.min(REPLACED_PER_SECOND, CLIENTS); i++) {
      attackers.shift()?.socket.destroy();
      const fresh = openNonReader(agent);
      attackers.push(fresh);
      everyAttacker.push(fresh);
    }
  }, 1000);
  await Promise.all(Array.from({ length: CHURN_WORKERS }, (_, w) => churn(w)));
  clearInterval(replacer);
  const loadSeconds = (Date.now() - loadStarted) / 1000;
  const reconcilesPerSecond = ((await reconciles(agent)) - reconcilesBefore) / loadSeconds;
  const startsPerSecond =
    ((await restarts(agent)) - restartsBefore) / loadSeconds + mutations / 2 / loadSeconds;
  // A start is followed by running and an exit (periodic) or a stop (deleted): ~3 state changes each,
  // plus the PUT and DELETE themselves.
  const changesPerSecond = startsPerSecond * 3 + mutations / loadSeconds;
  sampling = false;
  await sampler;
  const rssPeak = Math.max(...rssSamples);
  for (const attacker of attackers.splice(0)) attacker.socket.destroy();
  await new Promise((r) => setTimeout(r, 3_000));
  const rssAfter = await rssMiB(agent.pid);
  const dropped = (agent.output().match(/dropped an event-stream client/g) ?? []).length;
  const accepted = everyAttacker.filter((a) => a.status === 200).length;
  const refused = everyAttacker.filter((a) => a.status === 503).length;
  const healthy = (await callAgent(agent, 'GET', '/healthz')).status === 200;
  const leftovers = (await pidsRunning(['sleep', String(SLEEP_BASE + 500)])).length;

  const round = (v: number) => Math.round(v * 10) / 10;
  const growth = rssPeak - rssIdle;
  console.log(`hostile-clients benchmark: ${CLIENTS} non-reading event-stream clients, ${APPS} apps (node ${process.version})`);
  console.log(
    `  app changes     ~${Math.round(changesPerSecond)} /s: ${Math.round(startsPerSecond)} starts/s, ${Math.round(mutations / loadSeconds)} PUT+DELETE/s, ${Math.round(reconcilesPerSecond)} reconciles/s, for ${round(loadSeconds)} s`,
  );
  console.log(`  streams         ${everyAttacker.length} opened: ${accepted} accepted, ${refused} refused (503), ${dropped} dropped for not reading`);
  console.log(`  agent RSS       idle ${round(rssIdle)} MiB, peak ${round(rssPeak)} MiB (+${round(growth)}), after ${round(rssAfter)} MiB; bound +${RSS_GROWTH_BOUND_MIB} MiB: ${growth <= RSS_GROWTH_BOUND_MIB ? 'held' : 'EXCEEDED'}`);
  const latency = summarize(latencies);
  console.log(`  API meanwhile   PUT/DELETE p50 ${latency.p50} ms, p99 ${latency.p99} ms; /healthz ${healthy ? 'ok' : 'FAILED'}; churn leftovers ${leftovers}`);
  // A run with another client count (e.g. 0, the baseline) is printed only.
  if (process.argv[2] === undefined) await writeResult({
    name: 'hostile-clients',
    command: 'node dist/hack/bench/hostile-clients.js',
    figures: {
      clients: CLIENTS,
      apps: APPS,
      loadSeconds: round(loadSeconds),
      appChangesPerSecond: Math.round(changesPerSecond),
      appStartsPerSecond: Math.round(startsPerSecond),
      reconcilesPerSecond: Math.round(reconcilesPerSecond),
      mutationsPerSecond: Math.round(mutations / loadSeconds),
      streamsOpened: everyAttacker.length,
      streamsAccepted: accepted,
      streamsRefused503: refused,
      streamsDropped: dropped,
      rssIdleMiB: round(rssIdle),
      rssPeakMiB: round(rssPeak),
      rssAfterMiB: round(rssAfter),
      rssGrowthMiB: round(growth),
      rssGrowthBoundMiB: RSS_GROWTH_BOUND_MIB,
      boundHeld: growth <= RSS_GROWTH_BOUND_MIB,
      mutationLatencyMs: latency,
    },
    notes: [
      `${CLIENTS} clients open GET /appmesh/events with the token and never read; ${REPLACED_PER_SECOND} a second are closed and replaced so ${CLIENTS} stay open.`,
      'The agent serves at most 32 streams (the rest get 503) and drops a client once 1 MiB is queued for it.',
      `App changes: ${CHURN_WORKERS} workers PUT then DELETE short-lived sleep apps next to ${APPS} running ones (~3 KB of metadata each, so each apps event is ~300 KB). Changes ~ 3 per started app (starting, running, stopped) + the PUT and DELETE; reconciles from the app supervisor's reconcile counter (each change of the desired set reconciles every app).`,
      'Before the bound, 50 such clients took an agent from 203 MB to 1.53 GB in 15 s (issue 14).',
    ],
  });
  if (growth > RSS_GROWTH_BOUND_MIB || !healthy) process.exitCode = 1;
} finally {
  if (!agent.running()) console.error(`the agent exited; its last output:\n${agent.output().slice(-4000)}`);
  for (const attacker of everyAttacker) attacker.socket.destroy();
  await agent.stop();
  await removeDataDir(dataDir);
}
