// Benchmark: a fleet of 20 agents (n01..n20) on one real Consul (dev mode), all on this host. 200 cluster
// tasks of 3 replicas (600 `sleep` processes) are written at once; it measures the time from the first
// write until every task runs 3 replicas, the Consul requests the agents made meanwhile and their CPU time.
// Run: npx tsc -p tsconfig.json --outDir .build-fleet && \
//      CONSUL_BIN=$(hack/install-consul.sh) node .build-fleet/hack/bench/fleet.js
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import {
  countsBetween,
  establishedConnections,
  killSleepsInRange,
  runningReplicas,
  sleepsInRange,
  snapshotAgents,
  total,
} from './agent-stats.js';
import { writeResult } from './results.js';
import { startCluster, type TestCluster } from '../../test/fixtures/cluster.js';
import { eventually } from '../../test/fixtures/eventually.js';

const NODE_COUNT = 20;
const TASK_COUNT = 200;
const REPLICATION = 3;
const REPLICAS = TASK_COUNT * REPLICATION;
/** Convergence is given up after this long from the first write, with what was reached by then. */
const BOUND_MS = 5 * 60_000;
/** One poll is one recursive KV read of the 20 node reports. */
const POLL_MS = 100;
const SETTLE_MS = 3_000;
const TEARDOWN_WAIT_MS = 60_000;
/**
 * Consul refuses (HTTP 429) more than 200 concurrent connections from one client IP by default; here all
 * 20 agents and the benchmark share 127.0.0.1, which a real fleet would not, so the limit is raised.
 */
const CONSUL_CONNS_PER_CLIENT = 4_096;
const TASKS = 'appmesh/cluster/tasks';
const NODE_KEYS = 'appmesh/cluster/nodes/';
/** Every tenth task is pinned to zone east (5 nodes), so placement also has conditions to satisfy. */
const PINNED_EVERY = 10;

const ZONES = ['east', 'west', 'north', 'south'];
const NODES: Record<string, string[]> = Object.fromEntries(
  Array.from({ length: NODE_COUNT }, (_, i) => [
    `n${String(i + 1).padStart(2, '0')}`,
    ['--label', `zone=${ZONES[i % ZONES.length]}`, '--label', `tier=${i < NODE_COUNT / 2 ? 'web' : 'db'}`],
  ]),
);
const NODE_NAMES = Object.keys(NODES);

// Unique `sleep` arguments per run, so the clean-up never touches another run's processes.
const SLEEP_BASE = 80_000_000 + (process.pid % 100_000) * 1_000;
const SLEEP_END = SLEEP_BASE + TASK_COUNT;

const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

let cluster: TestCluster | undefined;
let cleanedUp: Promise<void> | undefined;
const cleanupNotes: string[] = [];

/** Deletes the tasks, waits (bounded) for the agents to stop their copies, stops everything, kills leftovers. */
function cleanUp(): Promise<void> {
  cleanedUp ??= (async () => {
    const started = cluster;
    if (started) {
      try {
        await started.client.kv.delete(`${TASKS}/fleet-`, { recurse: true });
        await eventually(
          'no fleet- app in any node report',
          async () => (await runningReplicas(started.client)).size === 0,
          TEARDOWN_WAIT_MS,
          250,
        );
      } catch (err) {
        cleanupNotes.push(`tasks not all stopped before shutdown: ${(err as Error).message}`);
      }
      await started.close();
    }
    const { killed, left } = await killSleepsInRange(SLEEP_BASE, SLEEP_END);
    if (killed > 0) cleanupNotes.push(`${killed} sleep processes outlived their agents and were SIGKILLed`);
    cleanupNotes.push(`sleep processes of this run left after clean-up: ${left}`);
  })();
  return cleanedUp;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`${signal}: cleaning up`);
    void cleanUp().finally(() => process.exit(130));
  });
}

try {
  const launchStarted = performance.now();
  cluster = await startCluster({
    nodes: NODES,
    agentEnv: { APPMESH_LOG_LEVEL: 'warn' },
    consul: { hcl: [`limits { http_max_conns_per_client = ${CONSUL_CONNS_PER_CLIENT} }`] },
  });
  const running = cluster;
  await eventually(
    `${NODE_COUNT} node reports and a leader`,
    async () => (await running.client.kv.keys(NODE_KEYS)).length === NODE_COUNT && running.leaderNode(),
    60_000,
    100,
  );
  const launchMs = performance.now() - launchStarted;
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const leader = (await running.leaderNode()) ?? '?';
  const idleConnections = await establishedConnections(running.consul.httpPort);
  const loadBefore = loadavg()[0] ?? NaN;

  console.error(`fleet: ${NODE_COUNT} agents up after ${seconds(launchMs)}; writing ${TASK_COUNT} tasks`);
  const before = await snapshotAgents(running.agents);
  const firstWrite = performance.now();
  await Promise.all(
    Array.from({ length: TASK_COUNT }, (_, i) =>
      running.putTask(`fleet-${String(i).padStart(3, '0')}`, {
        replication: REPLICATION,
        content: { command: `sleep ${SLEEP_BASE + i}` },
        ...(i % PINNED_EVERY === 0 ? { condition: { zone: 'east' } } : {}),
      }),
    ),
  );
  const writesMs = performance.now() - firstWrite;

  // Milestones: when the reports first showed that share of the 600 replicas running.
  const shares = [0.01, 0.25, 0.5, 0.75, 0.9, 0.99, 1];
  const reachedAt = new Map<number, number>();
  let replicasRunning = 0;
  let tasksComplete = 0;
  let convergedMs: number | undefined;
  let peakConnections = 0;
  while (performance.now() - firstWrite < BOUND_MS) {
    const [counts, connections] = await Promise.all([
      runningReplicas(running.client),
      establishedConnections(running.consul.httpPort),
    ]);
    peakConnections = Math.max(peakConnections, connections);
    const at = performance.now() - firstWrite;
    replicasRunning = 0;
    tasksComplete = 0;
    for (const count of counts.values()) {
      replicasRunning += Math.min(count, REPLICATION);
      if (count >= REPLICATION) tasksComplete++;
    }
    for (const share of shares) {
      if (!reachedAt.has(share) && replicasRunning >= Math.ceil(share * REPLICAS)) reachedAt.set(share, at);
    }
    if (tasksComplete === TASK_COUNT) {
      convergedMs = at;
      break;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  const windowMs = performance.now() - firstWrite;
  console.error(`fleet: window closed after ${seconds(windowMs)}; scraping the agents`);
  const after = await snapshotAgents(running.agents);
  const processes = (await sleepsInRange(SLEEP_BASE, SLEEP_END)).length;

  const perAgent = NODE_NAMES.map((node) => {
    const b = before.get(node);
    const a = after.get(node);
    const requests = a && b ? countsBetween(b.requests, a.requests) : new Map<string, number>();
    const codes = a && b ? countsBetween(b.codes, a.codes) : new Map<string, number>();
    return { node, requests, codes, total: total(requests), cpu: a && b ? a.cpu - b.cpu : NaN };
  });
  const byCode = new Map<string, number>();
  for (const agent of perAgent)
    for (const [code, value] of agent.codes) byCode.set(code, (byCode.get(code) ?? 0) + value);
  const byEndpoint = new Map<string, number>();
  for (const agent of perAgent)
    for (const [key, value] of agent.requests) byEndpoint.set(key, (byEndpoint.get(key) ?? 0) + value);
  const requestsTotal = total(byEndpoint);
  const windowS = windowMs / 1000;
  const cpuSum = perAgent.reduce((sum, a) => sum + a.cpu, 0);
  const busiest = perAgent.reduce((max, a) => (a.cpu > max.cpu ? a : max));

  console.log(
    `fleet benchmark: ${NODE_COUNT} agents on one Consul (dev mode), ${TASK_COUNT} tasks x ${REPLICATION} ` +
      `replicas (sleep), node ${process.version}`,
  );
  console.log(
    `  agents started and reporting in ${seconds(launchMs)} (one after another); leader ${leader}; ` +
      `${TASK_COUNT} KV writes issued concurrently, all acknowledged in ${seconds(writesMs)}`,
  );
  console.log(
    `  host: ${cpus().length} cores; 1-min load average ${loadBefore.toFixed(1)} just before the writes`,
  );
  console.log(
    `  convergence (from the first write; polled every ${POLL_MS} ms from the node reports' apps maps in KV)`,
  );
  console.log(
    convergedMs === undefined
      ? `    NOT converged within ${seconds(BOUND_MS)}: ${tasksComplete}/${TASK_COUNT} tasks complete, ` +
          `${replicasRunning}/${REPLICAS} replicas running`
      : `    all ${TASK_COUNT} tasks at ${REPLICATION} running replicas after ${seconds(convergedMs)}`,
  );
  console.log(
    `    replicas running: ${shares
      .map((s) => `${Math.round(s * 100)}% ${reachedAt.has(s) ? seconds(reachedAt.get(s) ?? NaN) : '-'}`)
      .join('  ')}`,
  );
  console.log(`    sleep processes of this run alive at the end of the window: ${processes}`);
  console.log(
    `  TCP connections to Consul's HTTP port (all clients, incl. the benchmark): ${idleConnections} before ` +
      `the writes, peak ${peakConnections} during convergence`,
  );
  console.log(
    `  Consul requests by all agents over the ${seconds(windowMs)} window: ${requestsTotal} ` +
      `(${(requestsTotal / windowS).toFixed(1)}/s; completed requests only); by status code: ` +
      [...byCode].map(([code, value]) => `${code}: ${value}`).join(', '),
  );
  for (const [key, value] of [...byEndpoint].sort((x, y) => y[1] - x[1]))
    console.log(
      `    ${key.padEnd(40)} ${String(value).padStart(7)}  ${(value / windowS).toFixed(1).padStart(7)}/s`,
    );
  console.log(
    `  agent CPU over the window: sum ${cpuSum.toFixed(2)} s (${((cpuSum / windowS) * 100).toFixed(0)}% of one ` +
      `core), max ${busiest.cpu.toFixed(2)} s on ${busiest.node}`,
  );
  console.log(`    node   requests   req/s  cpu s`);
  for (const agent of perAgent)
    console.log(
      `    ${agent.node}${agent.node === leader ? '*' : ' '} ${String(agent.total).padStart(9)} ` +
        `${(agent.total / windowS).toFixed(1).padStart(7)} ${agent.cpu.toFixed(2).padStart(6)}`,
    );
  console.log('    (* leader)');

  const notes = [
    `Convergence = every task listed as running (owner cluster) in ${REPLICATION} node reports ` +
      `(appmesh/cluster/nodes/<node> apps map), polled every ${POLL_MS} ms; a report is written after the ` +
      'process runs, so this includes the report write.',
    `The ${TASK_COUNT} task writes are concurrent KV PUTs by the benchmark; every ${PINNED_EVERY}th task is ` +
      'pinned to zone=east (5 of the 20 nodes).',
    'Requests are the change in appmesh_consul_requests_total summed over every agent between a scrape just ' +
      'before the first write and one just after convergence; they are counted when they complete, so a ' +
      "blocking query parked before the window counts when it returns inside it. The benchmark's own KV " +
      'reads and writes are not included.',
    'CPU is utime+stime of each agent process from /proc/<pid>/stat over the same window (apps excluded).',
    `All 20 agents, Consul and 600 sleep processes share this one machine (${cpus().length} cores, 1-min ` +
      `load average ${loadBefore.toFixed(1)} before the writes: other work was running too).`,
    `Consul's http_max_conns_per_client is raised to ${CONSUL_CONNS_PER_CLIENT}: at the default 200, Consul ` +
      'answered 429 because every agent connects from 127.0.0.1.',
  ];
  const path = await writeResult({
    name: 'fleet',
    command: 'node dist/hack/bench/fleet.js',
    figures: {
      agents: NODE_COUNT,
      tasks: TASK_COUNT,
      replication: REPLICATION,
      converged: convergedMs !== undefined,
      convergenceMs: convergedMs === undefined ? null : Math.round(convergedMs),
      windowMs: Math.round(windowMs),
      tasksComplete,
      replicasRunning,
      replicasRunningAtMs: Object.fromEntries(
        [...reachedAt].map(([share, at]) => [`${Math.round(share * 100)}%`, Math.round(at)]),
      ),
      writesMs: Math.round(writesMs),
      consulRequests: requestsTotal,
      consulRequestsPerSecond: Math.round((requestsTotal / windowS) * 10) / 10,
      consulRequestsByEndpoint: Object.fromEntries(byEndpoint),
      consulRequestsByCode: Object.fromEntries(byCode),
      agentCpuSecondsSum: Math.round(cpuSum * 100) / 100,
      agentCpuSecondsMax: Math.round(busiest.cpu * 100) / 100,
      agentCpuSecondsMaxNode: busiest.node,
      leader,
      consulConnectionsBefore: idleConnections,
      consulConnectionsPeak: peakConnections,
      loadAverageBefore: Math.round(loadBefore * 10) / 10,
      perAgent: Object.fromEntries(
        perAgent.map((a) => [a.node, { requests: a.total, cpuSeconds: Math.round(a.cpu * 100) / 100 }]),
      ),
    },
    notes,
  });
  console.log(`  wrote ${path}`);
} finally {
  await cleanUp();
  for (const note of cleanupNotes) console.log(`  clean-up: ${note}`);
}
