// Benchmark: what an idle agent costs. Three agents on one real Consul (dev mode) run 5 tasks x 2 replicas
// (one task with a port, so services are registered); at steady state it measures, per agent over 60 s,
// Consul requests per minute (by endpoint), CPU % and RSS against the goals (<= 10 requests/min, < 1 % CPU,
// < 80 MB RSS); then with the systemd unit's memory settings, then the polling baseline (APPMESH_POLL_INTERVAL=5s,
// APPMESH_REPORT_INTERVAL=10s).
// Run: npx tsc -p tsconfig.json --outDir .build-fleet && \
//      CONSUL_BIN=$(hack/install-consul.sh) node .build-fleet/hack/bench/idle.js
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import {
  countsBetween,
  gauge,
  killSleepsInRange,
  runningReplicas,
  snapshotAgents,
  total,
  type AgentSnapshot,
} from './agent-stats.js';
import { writeResult } from './results.js';
import { freePort } from '../../test/fixtures/consul.js';
import { startCluster, type TestCluster } from '../../test/fixtures/cluster.js';
import { eventually } from '../../test/fixtures/eventually.js';

const NODES = {
  i1: ['--label', 'zone=east'],
  i2: ['--label', 'zone=east'],
  i3: ['--label', 'zone=west'],
};
const TASK_COUNT = 5;
const REPLICATION = 2;
const STEADY_MS = 10_000;
const WINDOW_MS = 60_000;
const TASKS = 'appmesh/cluster/tasks';
const GOAL_REQUESTS_PER_MINUTE = 10;
const GOAL_CPU_PERCENT = 1;
const GOAL_RSS_BYTES = 80e6;
/** The line a polling-baseline agent logs at start-up (warn level), proving the variables took effect. */
const POLLING_BANNER = 'running as the polling baseline';
const POLLING_ENV = { APPMESH_POLL_INTERVAL: '5s', APPMESH_REPORT_INTERVAL: '10s' };
/**
 * The memory settings of manifests/appmesh-agent.service: glibc keeps a malloc arena for every thread
 * that ever allocated, and V8's worker pool is as large as the cores; an idle agent needs neither.
 */
const TUNED_ENV = { MALLOC_ARENA_MAX: '2', NODE_OPTIONS: '--v8-pool-size=1' };

// Unique `sleep` arguments per run and variant, so the clean-up never touches another run's processes.
const SLEEP_BASE = 70_000_000 + (process.pid % 100_000) * 100;
const SLEEP_END = SLEEP_BASE + 100;

interface AgentCost {
  readonly node: string;
  readonly leader: boolean;
  readonly requests: ReadonlyMap<string, number>;
  readonly requestsPerMinute: number;
  readonly cpuPercent: number;
  readonly rss: number;
  /** The parts of `rss`: anonymous (V8 heap, malloc, stacks) and file-backed (the node binary). */
  readonly rssAnonymous: number;
  readonly rssFileBacked: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
}

interface VariantResult {
  readonly label: string;
  readonly windowMs: number;
  readonly agents: readonly AgentCost[];
  readonly services: number;
}

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;
const mean = (values: readonly number[]): number => values.reduce((s, v) => s + v, 0) / values.length;

function costs(
  before: ReadonlyMap<string, AgentSnapshot>,
  after: ReadonlyMap<string, AgentSnapshot>,
  windowMs: number,
  leader: string | undefined,
): AgentCost[] {
  return [...after].map(([node, a]) => {
    const b = before.get(node);
    const requests = b ? countsBetween(b.requests, a.requests) : new Map<string, number>();
    return {
      node,
      leader: node === leader,
      requests,
      requestsPerMinute: (total(requests) / windowMs) * 60_000,
      cpuPercent: b ? ((a.cpu - b.cpu) / (windowMs / 1000)) * 100 : NaN,
      rss: a.memory.rss,
      rssAnonymous: a.memory.anonymous,
      rssFileBacked: a.memory.fileBacked,
      heapUsed: gauge(a.samples, 'appmesh_nodejs_heap_size_used_bytes'),
      heapTotal: gauge(a.samples, 'appmesh_nodejs_heap_size_total_bytes'),
      external: gauge(a.samples, 'appmesh_nodejs_external_memory_bytes'),
    };
  });
}

async function registeredServices(cluster: TestCluster): Promise<number> {
  const response = await fetch(`${cluster.consul.address}/v1/catalog/services`);
  const services = (await response.json()) as Record<string, unknown>;
  return Object.keys(services).filter((name) => name !== 'consul').length;
}

/** Starts three agents with `env`, places the tasks, waits for steady state and measures one window. */
async function measureVariant(
  label: string,
  env: Readonly<Record<string, string>>,
  sleepBase: number,
): Promise<VariantResult> {
  const cluster = await startCluster({ nodes: NODES, agentEnv: { APPMESH_LOG_LEVEL: 'warn', ...env } });
  let cleanup = '';
  try {
    if (env === POLLING_ENV) {
      const silent = [...cluster.agents].filter(([, agent]) => !agent.output().includes(POLLING_BANNER));
      if (silent.length > 0) {
        throw new Error(
          `agents ${silent.map(([node]) => node).join(', ')} did not log "${POLLING_BANNER}" with ` +
            `${JSON.stringify(env)}: this build does not support the polling baseline`,
        );
      }
    }
    const port = await freePort();
    for (let i = 0; i < TASK_COUNT; i++) {
      await cluster.putTask(`idle-${i}`, {
        replication: REPLICATION,
        content: { command: `sleep ${sleepBase + i}` },
        ...(i === 0 ? { port } : {}),
      });
    }
    await eventually(
      `${TASK_COUNT} tasks x ${REPLICATION} replicas running`,
      async () => {
        const counts = await runningReplicas(cluster.client);
        return [...counts.values()].filter((n) => n >= REPLICATION).length === TASK_COUNT;
      },
      60_000,
      200,
    );
    await new Promise((r) => setTimeout(r, STEADY_MS));
    const before = await snapshotAgents(cluster.agents);
    const started = performance.now();
    await new Promise((r) => setTimeout(r, WINDOW_MS));
    const after = await snapshotAgents(cluster.agents);
    const windowMs = performance.now() - started;
    const leader = await cluster.leaderNode();
    const services = await registeredServices(cluster);
    return { label, windowMs, agents: costs(before, after, windowMs, leader), services };
  } finally {
    try {
      await cluster.client.kv.delete(`${TASKS}/idle-`, { recurse: true });
      await eventually(
        'no idle- app running',
        async () => (await runningReplicas(cluster.client)).size === 0,
      );
    } catch (err) {
      cleanup = `tasks not all stopped before shutdown: ${(err as Error).message}; `;
    }
    await cluster.close();
    const { killed, left } = await killSleepsInRange(sleepBase, sleepBase + TASK_COUNT);
    cleanup += `${killed} leftover sleeps killed, ${left} left`;
    console.log(`  ${label}: clean-up: ${cleanup}`);
  }
}

function printVariant(result: VariantResult): void {
  console.log(
    `\n${result.label}: ${TASK_COUNT} tasks x ${REPLICATION} replicas on 3 agents, ${result.services} Consul ` +
      `service(s) registered; window ${(result.windowMs / 1000).toFixed(1)} s after ${STEADY_MS / 1000} s of steady state`,
  );
  console.log('  node  req/min  CPU %   RSS        anon       file       heap used  heap total  external');
  for (const a of result.agents) {
    console.log(
      `  ${a.node}${a.leader ? '*' : ' '} ${a.requestsPerMinute.toFixed(1).padStart(8)} ${a.cpuPercent
        .toFixed(2)
        .padStart(6)}   ${mb(a.rss).padEnd(10)} ${mb(a.rssAnonymous).padEnd(10)} ${mb(a.rssFileBacked).padEnd(10)} ` +
        `${mb(a.heapUsed).padEnd(10)} ${mb(a.heapTotal).padEnd(11)} ` +
        mb(a.external),
    );
  }
  console.log('  (* leader)  requests per minute by endpoint:');
  const endpoints = new Set(result.agents.flatMap((a) => [...a.requests.keys()]));
  for (const endpoint of [...endpoints].sort()) {
    const perNode = result.agents.map(
      (a) => `${a.node} ${(((a.requests.get(endpoint) ?? 0) / result.windowMs) * 60_000).toFixed(1)}`,
    );
    console.log(`    ${endpoint.padEnd(36)} ${perNode.join('  ')}`);
  }
}

/** One line per goal and agent that misses it, with by how much. */
function goalMisses(result: VariantResult): string[] {
  const misses: string[] = [];
  for (const a of result.agents) {
    if (a.requestsPerMinute > GOAL_REQUESTS_PER_MINUTE)
      misses.push(
        `${a.node}: ${a.requestsPerMinute.toFixed(1)} requests/min, ` +
          `${(a.requestsPerMinute - GOAL_REQUESTS_PER_MINUTE).toFixed(1)} over the goal of ${GOAL_REQUESTS_PER_MINUTE}`,
      );
    if (a.cpuPercent >= GOAL_CPU_PERCENT)
      misses.push(`${a.node}: CPU ${a.cpuPercent.toFixed(2)} %, goal < ${GOAL_CPU_PERCENT} %`);
    if (a.rss >= GOAL_RSS_BYTES)
      misses.push(
        `${a.node}: RSS ${mb(a.rss)}, ${mb(a.rss - GOAL_RSS_BYTES)} over the goal of ${mb(GOAL_RSS_BYTES)}; ` +
          `file-backed ${mb(a.rssFileBacked)} (the node binary's pages, shared by every node process), ` +
          `anonymous ${mb(a.rssAnonymous)}: V8 heap ${mb(a.heapTotal)} allocated (${mb(a.heapUsed)} used), ` +
          `external ${mb(a.external)}, the rest (${mb(a.rssAnonymous - a.heapTotal - a.external)}) is native ` +
          'memory (malloc, including per-thread arenas; WebAssembly code; stacks)',
      );
  }
  return misses;
}

const figuresOf = (result: VariantResult) => ({
  windowMs: Math.round(result.windowMs),
  services: result.services,
  perAgent: Object.fromEntries(
    result.agents.map((a) => [
      a.node,
      {
        leader: a.leader,
        requestsPerMinute: Math.round(a.requestsPerMinute * 10) / 10,
        requestsPerMinuteByEndpoint: Object.fromEntries(
          [...a.requests].map(([k, v]) => [k, Math.round((v / result.windowMs) * 600_000) / 10]),
        ),
        cpuPercent: Math.round(a.cpuPercent * 100) / 100,
        rssBytes: a.rss,
        rssAnonymousBytes: a.rssAnonymous,
        rssFileBackedBytes: a.rssFileBacked,
        heapUsedBytes: a.heapUsed,
        heapTotalBytes: a.heapTotal,
        externalBytes: a.external,
      },
    ]),
  ),
  meanRequestsPerMinute: Math.round(mean(result.agents.map((a) => a.requestsPerMinute)) * 10) / 10,
  meanCpuPercent: Math.round(mean(result.agents.map((a) => a.cpuPercent)) * 100) / 100,
  maxRssBytes: Math.max(...result.agents.map((a) => a.rss)),
});

const loadBefore = loadavg()[0] ?? NaN;
console.log(
  `idle benchmark: 3 agents on one Consul (dev mode), node ${process.version}, ${cpus().length} cores, ` +
    `1-min load average ${loadBefore.toFixed(1)} at the start`,
);
const events = await measureVariant('blocking watches (default)', {}, SLEEP_BASE);
printVariant(events);
const tuned = await measureVariant('blocking watches, systemd unit memory settings', TUNED_ENV, SLEEP_BASE + 25);
printVariant(tuned);
let polling: VariantResult | undefined;
let pollingProblem: string | undefined;
try {
  polling = await measureVariant('polling baseline', POLLING_ENV, SLEEP_BASE + 50);
  printVariant(polling);
} catch (err) {
  pollingProblem = (err as Error).message;
  console.log(`\npolling baseline: not measured: ${pollingProblem}`);
}
await killSleepsInRange(SLEEP_BASE, SLEEP_END);

const eventRate = mean(events.agents.map((a) => a.requestsPerMinute));
const pollRate = polling ? mean(polling.agents.map((a) => a.requestsPerMinute)) : NaN;
const ratio = pollRate / eventRate;
console.log('\nsummary (mean per agent)');
console.log(
  `  blocking watches: ${eventRate.toFixed(1)} requests/min, CPU ` +
    `${mean(events.agents.map((a) => a.cpuPercent)).toFixed(2)} %, max RSS ${mb(Math.max(...events.agents.map((a) => a.rss)))}`,
);
console.log(
  `  with ${Object.entries(TUNED_ENV)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')}: ${mean(tuned.agents.map((a) => a.requestsPerMinute)).toFixed(1)} requests/min, CPU ` +
    `${mean(tuned.agents.map((a) => a.cpuPercent)).toFixed(2)} %, max RSS ${mb(Math.max(...tuned.agents.map((a) => a.rss)))}`,
);
if (polling) {
  console.log(
    `  polling baseline: ${pollRate.toFixed(1)} requests/min, CPU ` +
      `${mean(polling.agents.map((a) => a.cpuPercent)).toFixed(2)} %, max RSS ${mb(Math.max(...polling.agents.map((a) => a.rss)))}`,
  );
  console.log(`  polling / blocking request rate: ${ratio.toFixed(1)}x`);
}
const misses = goalMisses(events);
const tunedMisses = goalMisses(tuned);
const goals = `<= ${GOAL_REQUESTS_PER_MINUTE} req/min, < ${GOAL_CPU_PERCENT} % CPU, < ${mb(GOAL_RSS_BYTES)} RSS`;
for (const [who, missed] of [
  ['the default agent', misses],
  ['the agent with the systemd unit settings', tunedMisses],
] as const) {
  console.log(
    missed.length === 0
      ? `  goals (${goals}) met by ${who}`
      : `  goals missed by ${who}:\n${missed.map((m) => `    ${m}`).join('\n')}`,
  );
}

const notes = [
  `Per agent over a ${WINDOW_MS / 1000} s window that starts ${STEADY_MS / 1000} s after all replicas ran; ` +
    'requests are the change in appmesh_consul_requests_total, which counts a request when it completes: a ' +
    'blocking query (wait 10 min) parked across the window counts only if it returns inside it.',
  'CPU % is utime+stime from /proc/<pid>/stat over the window (of one core); RSS is VmRSS at its end, split ' +
    'into RssAnon and RssFile from /proc/<pid>/status; heap and external memory are the agent’s prom-client ' +
    'default metrics.',
  `The polling baseline is the same agent with ${Object.entries(POLLING_ENV)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')} (plain reads instead of blocking watches; node report rewritten every 10 s).`,
  `The systemd-unit variant runs the same agent with ${Object.entries(TUNED_ENV)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')}, as manifests/appmesh-agent.service does.`,
  `Goal RSS is taken as ${GOAL_RSS_BYTES / 1e6} MB = ${GOAL_RSS_BYTES} bytes.`,
  `Host: ${cpus().length} cores, 1-min load average ${loadBefore.toFixed(1)} at the start (other work was running).`,
  ...misses.map((m) => `goal missed (default): ${m}`),
  ...tunedMisses.map((m) => `goal missed (systemd unit settings): ${m}`),
  ...(pollingProblem ? [`polling baseline not measured: ${pollingProblem}`] : []),
];
const path = await writeResult({
  name: 'idle',
  command: 'node dist/hack/bench/idle.js',
  figures: {
    goals: {
      requestsPerMinute: GOAL_REQUESTS_PER_MINUTE,
      cpuPercent: GOAL_CPU_PERCENT,
      rssBytes: GOAL_RSS_BYTES,
    },
    blocking: figuresOf(events),
    blockingSystemdUnitSettings: figuresOf(tuned),
    polling: polling ? figuresOf(polling) : null,
    pollingToBlockingRequestRatio: Number.isFinite(ratio) ? Math.round(ratio * 10) / 10 : null,
  },
  notes,
});
console.log(`  wrote ${path}`);
