// Benchmark: three agents (n1..n3) on one real Consul (dev mode), all on this host. Measures how long
// a ClusterTask takes from `appmesh apply` to its first running process and to all replicas passing
// their Consul checks, how long failover takes when a worker or the leader is stopped (SIGTERM) or
// killed (SIGKILL), and the same apply -> running latency with agents in the polling variant.
// Numbers are printed and written to bench/results/cluster.json, never asserted; every wait is bounded.
// Run: npx tsc -p tsconfig.json --outDir .build-bench && \
//      CONSUL_BIN=$(hack/install-consul.sh) node .build-bench/hack/bench/cluster.js
import { watch, type FSWatcher } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { isLeft } from 'fp-ts/lib/Either.js';
import { execa } from 'execa';
import { request } from 'undici';
import { decodeClusterTask } from '../../api/cluster.js';
import { applyTask } from '../../src/cli/task-store.js';
import { parseGoDurationSeconds } from '../../src/consul/session.js';
import { consulBinary, freePorts } from '../../test/fixtures/consul.js';
import {
  applicationsOf,
  CLI,
  pidsRunning,
  runningClusterCopy,
  type AgentProcess,
} from '../../test/fixtures/agent.js';
import { leaderOf, startCluster, type TestCluster } from '../../test/fixtures/cluster.js';
import { eventually } from '../../test/fixtures/eventually.js';
import { summarize, writeResult } from './results.js';

const CONVERGENCE_TASKS = 50;
const REPLICAS = 3;
const FAILOVER_ROUNDS = 5;
const POLLING_TASKS = 20;
/** Apply spacing of the polling baseline: tasks overlap, and 1.3 s walks the phase across a 5 s poll. */
const POLLING_SPACING_MS = 1_300;
const POLLING_ENV = { APPMESH_POLL_INTERVAL: '5s', APPMESH_REPORT_INTERVAL: '10s' } as const;
/** Everything, clean-up included, must end well inside six minutes. */
const BUDGET_MS = 330_000;
/** What the polling baseline needs at most: a cluster start, its tasks, a 10 s tail, and its shutdown. */
const POLLING_RESERVE_MS = 75_000;
const CLEANUP_RESERVE_MS = 15_000;
const WAIT_MS = 60_000;
/** One poll asks all three agents (about 1 ms in total); a /proc scan takes tens of ms here. */
const POLL_MS = 5;
/** undici's own timers for the bench's direct HTTP calls (agents and Consul answer in ms). */
const HTTP_TIMEOUT_MS = 2_000;
const BOUNDED = { headersTimeout: HTTP_TIMEOUT_MS, bodyTimeout: HTTP_TIMEOUT_MS } as const;
const PREFIX = 'appmesh';
const TASKS = `${PREFIX}/cluster/tasks`;
const STATUS = `${PREFIX}/cluster/status`;
const LEADER_KEY = `${PREFIX}/cluster/leader`;
const NODE_KEYS = `${PREFIX}/cluster/nodes/`;

const NODES = {
  n1: ['--label', 'zone=east', '--label', 'tier=web-1'],
  n2: ['--label', 'zone=east', '--label', 'tier=web-2'],
  n3: ['--label', 'zone=west', '--label', 'tier=db-1'],
};
const NODE_NAMES = Object.keys(NODES);
const AGENT_ENV = { APPMESH_LOG_LEVEL: 'warn' };

type Summary = ReturnType<typeof summarize>;

/** A running copy of a task as an agent reports it, and when the report arrived. */
interface Sighting {
  readonly node: string;
  readonly pid: number;
  readonly at: number;
}

const ms = (value: number): string => `${Math.round(value)} ms`;
const startedAt = performance.now();
const elapsed = (): number => performance.now() - startedAt;
const notes: string[] = [];
/** The cluster running now; the `finally` at the end closes it whatever happened. */
let cluster: TestCluster | undefined;

/** Unique `sleep` arguments per run, so the /proc checks and the clean-up never touch another run's copies. */
const SLEEP_BASE = 90_000_000 + (process.pid % 100_000) * 100;
let sleepsUsed = 0;
function nextSleep(cluster: TestCluster): number {
  const seconds = SLEEP_BASE + sleepsUsed++;
  cluster.trackArgv(['sleep', String(seconds)]);
  return seconds;
}

/**
 * Writes the task exactly as `appmesh apply` does: the manifest spec (with `content.name` set, as the
 * CLI stores it) is decoded first, then `applyTask` reads the key and writes it with check-and-set.
 */
async function apply(cluster: TestCluster, name: string, spec: Record<string, unknown>): Promise<void> {
  const content = (spec['content'] ?? {}) as Record<string, unknown>;
  const stored = { ...spec, content: { name, ...content } };
  const decoded = decodeClusterTask(stored, name, `bench task ${name}`);
  if (isLeft(decoded)) throw decoded.left;
  const outcome = await applyTask(cluster.client, PREFIX, name, stored, true);
  if (outcome !== 'created') throw new Error(`apply of clustertask/${name} was ${outcome}, not created`);
}

/** The running, cluster-owned copies of `task` the live agents report, stamped when the answers arrived. */
async function sightings(cluster: TestCluster, task: string): Promise<Sighting[]> {
  const found = await Promise.all(
    [...cluster.agents].map(async ([node, agent]) => {
      try {
        const app = runningClusterCopy(await applicationsOf(agent, HTTP_TIMEOUT_MS), task);
        return app?.pid !== undefined ? [{ node, pid: app.pid, at: performance.now() }] : [];
      } catch {
        return []; // an agent that is stopping does not answer: it runs nothing we can count on
      }
    }),
  );
  return found.flat();
}

function waitRunning(
  cluster: TestCluster,
  task: string,
  accept: (s: Sighting) => boolean = () => true,
): Promise<Sighting> {
  return eventually(
    `${task} running`,
    async () => (await sightings(cluster, task)).find(accept),
    WAIT_MS,
    POLL_MS,
  );
}

/**
 * Follows a Consul read with blocking queries until `done` holds for its value, and returns when the
 * answer that satisfied it arrived: a change is seen the moment Consul commits it, as an agent's watch sees it.
 */
async function blockUntil<T>(
  what: string,
  read: (index: number, waitSeconds: number) => Promise<{ index: number; value: T }>,
  done: (value: T) => boolean,
): Promise<number> {
  const deadline = performance.now() + WAIT_MS;
  let index = 0;
  for (;;) {
    const left = deadline - performance.now();
    if (left <= 0) throw new Error(`timed out after ${WAIT_MS} ms waiting for ${what}`);
    const answer = await read(index, Math.max(1, Math.min(5, Math.floor(left / 1000))));
    if (done(answer.value)) return performance.now();
    index = answer.index < index ? 0 : answer.index;
  }
}

const passingCount = (cluster: TestCluster, service: string, index: number, waitSeconds: number) =>
  cluster.client.health
    .service(service, { passing: true, index, waitSeconds })
    .then((r) => ({ index: r.index, value: r.value.length }));

const statusWritten = (cluster: TestCluster, task: string, index: number, waitSeconds: number) =>
  cluster.client.kv.get(`${STATUS}/${task}`, { index, waitSeconds });

/**
 * Marker files the convergence tasks' processes create first thing (`touch <dir>/<task>.<node>`), seen
 * through inotify the moment they appear: "running" is when a process actually ran, not when an agent
 * said so, and no polling loads the agents while they work.
 */
class Markers {
  readonly #watcher: FSWatcher;
  readonly #waiting = new Map<string, (at: number) => void>();

  private constructor(readonly dir: string) {
    this.#watcher = watch(dir, (_event, file) => {
      const at = performance.now();
      const task = file?.slice(0, file.lastIndexOf('.'));
      if (task === undefined) return;
      this.#waiting.get(task)?.(at);
      this.#waiting.delete(task);
    });
  }

  static async create(): Promise<Markers> {
    return new Markers(await mkdtemp(join(tmpdir(), 'appmesh-bench-markers-')));
  }

  /** The shell command that marks the task's start, then becomes `sleep seconds` (so its argv is tracked). */
  command(task: string, seconds: number): string {
    return `touch ${this.dir}/${task}.$APPMESH_NODE; exec sleep ${seconds}`;
  }

  /** Resolves with the time the first marker of `task` appeared; call before applying the task. */
  first(task: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(task);
        reject(new Error(`no process of ${task} ran within ${WAIT_MS} ms`));
      }, WAIT_MS);
      this.#waiting.set(task, (at) => {
        clearTimeout(timer);
        resolve(at);
      });
    });
  }

  async close(): Promise<void> {
    this.#watcher.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}

interface Convergence {
  readonly apply: Summary;
  readonly placed: Summary;
  readonly running: Summary;
  readonly passing: Summary;
}

/** Tasks one at a time: apply, then the status key, the first running copy and all replicas passing. */
async function measureConvergence(cluster: TestCluster, markers: Markers): Promise<Convergence> {
  const applyMs: number[] = [];
  const placedMs: number[] = [];
  const runningMs: number[] = [];
  const passingMs: number[] = [];
  const ports = await freePorts(CONVERGENCE_TASKS);
  const used: number[] = [];
  for (let i = 0; i < CONVERGENCE_TASKS; i++) {
    const name = `conv-${i}`;
    const seconds = nextSleep(cluster);
    used.push(seconds);
    const ran = markers.first(name);
    const began = performance.now();
    // The watchers start with the apply; their first (non-blocking) reads see nothing yet.
    const placed = blockUntil(
      `${name} placed`,
      (index, wait) => statusWritten(cluster, name, index, wait),
      (entry) => Boolean(entry?.value),
    );
    const passing = blockUntil(
      `${REPLICAS} passing ${name}`,
      (index, wait) => passingCount(cluster, name, index, wait),
      (count) => count >= REPLICAS,
    );
    await apply(cluster, name, {
      replication: REPLICAS,
      port: ports[i],
      content: { command: markers.command(name, seconds), shell: true, service: { interval: 1 } },
    });
    applyMs.push(performance.now() - began);
    runningMs.push((await ran) - began);
    placedMs.push((await placed) - began);
    passingMs.push((await passing) - began);
  }

  await cluster.client.kv.delete(`${TASKS}/conv-`, { recurse: true });
  for (const seconds of used) {
    await eventually(
      `no sleep ${seconds} left`,
      async () => (await pidsRunning(['sleep', String(seconds)])).length === 0,
      WAIT_MS,
      50,
    );
  }
  return {
    apply: summarize(applyMs),
    placed: summarize(placedMs),
    running: summarize(runningMs),
    passing: summarize(passingMs),
  };
}

/**
 * Sends `signal` to an agent and resolves when it has exited, with how it ended and how long that took.
 * A SIGTERM that does not end the agent within 30 s is followed by SIGKILL, so this is bounded too.
 */
async function stopAgent(
  cluster: TestCluster,
  node: string,
  signal: 'SIGTERM' | 'SIGKILL',
): Promise<{ exit: string; exitedMs: number }> {
  const agent = cluster.agents.get(node);
  if (!agent) throw new Error(`agent ${node} is not running`);
  const sent = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const forced = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), 30_000);
  });
  const first = await Promise.race([cluster.stop(node, signal), forced]);
  clearTimeout(timer);
  const code = first === 'timeout' ? await agent.stop('SIGKILL') : first;
  const how = code === undefined ? 'killed' : `exit ${code}`;
  return {
    exit: first === 'timeout' ? `${how} (SIGKILL after 30 s of SIGTERM)` : how,
    exitedMs: performance.now() - sent,
  };
}

/** Follows the leader key with blocking queries, so a change is seen the moment Consul commits it. */
async function waitLeaderOtherThan(
  cluster: TestCluster,
  previous: string,
): Promise<{ node: string; at: number }> {
  let node: string | undefined;
  const at = await blockUntil(
    `a leader other than ${previous}`,
    (index, waitSeconds) => cluster.client.kv.get(LEADER_KEY, { index, waitSeconds }),
    (entry) => {
      node = leaderOf(entry);
      return node !== undefined && node !== previous;
    },
  );
  if (node === undefined) throw new Error('internal: leader seen without a node');
  return { node, at };
}

/** All three agents answer, own their node keys, and one of them holds the leader key. */
async function waitSettled(cluster: TestCluster): Promise<string> {
  return eventually(
    'three live nodes and a leader',
    async () => {
      const keys = await cluster.client.kv.keys(NODE_KEYS);
      if (cluster.agents.size !== NODE_NAMES.length || keys.length !== NODE_NAMES.length) return undefined;
      return cluster.leaderNode();
    },
    WAIT_MS,
    POLL_MS,
  );
}

async function restart(cluster: TestCluster, node: string): Promise<void> {
  await cluster.launch(node);
  await eventually(
    `${node} node key`,
    async () => (await cluster.client.kv.keys(NODE_KEYS)).includes(`${NODE_KEYS}${node}`),
    WAIT_MS,
    POLL_MS,
  );
}

async function removeTask(cluster: TestCluster, name: string, seconds: number): Promise<void> {
  await cluster.deleteTask(name);
  await eventually(
    `no sleep ${seconds} left`,
    async () => (await pidsRunning(['sleep', String(seconds)])).length === 0,
    WAIT_MS,
    50,
  );
}

type Scenario = 'workerSigterm' | 'workerSigkill' | 'leaderSigterm' | 'leaderSigkill';
const SCENARIOS: Record<Scenario, { who: 'worker' | 'leader'; signal: 'SIGTERM' | 'SIGKILL' }> = {
  workerSigterm: { who: 'worker', signal: 'SIGTERM' },
  workerSigkill: { who: 'worker', signal: 'SIGKILL' },
  leaderSigterm: { who: 'leader', signal: 'SIGTERM' },
  leaderSigkill: { who: 'leader', signal: 'SIGKILL' },
};
const SCENARIO_ORDER = Object.keys(SCENARIOS) as Scenario[];

/** A task pinned to the two non-leaders, placed on one of them; that worker is stopped or killed. */
async function workerRound(cluster: TestCluster, signal: 'SIGTERM' | 'SIGKILL', round: number) {
  const leader = await waitSettled(cluster);
  const workers = NODE_NAMES.filter((n) => n !== leader);
  const name = `worker-${signal.toLowerCase()}-${round}`;
  const seconds = nextSleep(cluster);
  await apply(cluster, name, {
    replication: 1,
    content: { command: `sleep ${seconds}` },
    condition: { HOST_NAME: `/${workers.join('|')}/` },
  });
  const placed = await waitRunning(cluster, name);
  const killed = performance.now();
  const [exit, moved] = await Promise.all([
    stopAgent(cluster, placed.node, signal),
    waitRunning(cluster, name, (s) => s.node !== placed.node && s.pid !== placed.pid),
  ]);
  await restart(cluster, placed.node);
  await removeTask(cluster, name, seconds);
  return {
    figures: { moved: moved.at - killed },
    line: `${placed.node} -> ${moved.node}  moved ${ms(moved.at - killed)}  (agent ${exit.exit} after ${ms(exit.exitedMs)})`,
  };
}

/**
 * The leader goes; once another node holds the leader key, a task is applied and must run elsewhere.
 * Applying only then makes the new leader, not the departing one, the scheduler that is measured.
 */
async function leaderRound(cluster: TestCluster, signal: 'SIGTERM' | 'SIGKILL', round: number) {
  const leader = await waitSettled(cluster);
  const name = `leader-${signal.toLowerCase()}-${round}`;
  const seconds = nextSleep(cluster);
  const killed = performance.now();
  const [exit, next] = await Promise.all([
    stopAgent(cluster, leader, signal),
    waitLeaderOtherThan(cluster, leader).then(async (next) => {
      await apply(cluster, name, { replication: 1, content: { command: `sleep ${seconds}` } });
      return { ...next, running: await waitRunning(cluster, name, (s) => s.node !== leader) };
    }),
  ]);
  await restart(cluster, leader);
  await removeTask(cluster, name, seconds);
  return {
    figures: { leader: next.at - killed, task: next.running.at - killed },
    line:
      `${leader} -> ${next.node}  leader ${ms(next.at - killed)}  task running on ${next.running.node} ` +
      `${ms(next.running.at - killed)}  (agent ${exit.exit} after ${ms(exit.exitedMs)})`,
  };
}

type FailoverSamples = Map<Scenario, Record<string, number>[]>;

async function measureFailover(cluster: TestCluster, budgetEnd: number): Promise<FailoverSamples> {
  const samples: FailoverSamples = new Map(SCENARIO_ORDER.map((s) => [s, []]));
  let slowestRoundMs = 0;
  for (let round = 1; round <= FAILOVER_ROUNDS; round++) {
    for (const scenario of SCENARIO_ORDER) {
      const left = budgetEnd - elapsed();
      if (left < 2 * slowestRoundMs) {
        console.log(`  ${scenario} #${round}  skipped: ${ms(left)} of the budget left`);
        continue;
      }
      const { who, signal } = SCENARIOS[scenario];
      const began = performance.now();
      const result =
        who === 'worker'
          ? await workerRound(cluster, signal, round)
          : await leaderRound(cluster, signal, round);
      slowestRoundMs = Math.max(slowestRoundMs, performance.now() - began);
      samples.get(scenario)?.push(result.figures);
      console.log(`  ${scenario.padEnd(13)} #${round}  ${result.line}`);
    }
  }
  return samples;
}

/** The session TTL and liveness check interval as Consul holds them for the current leader. */
async function sessionSettings(
  cluster: TestCluster,
): Promise<{ ttlSeconds: number; livenessIntervalSeconds: number; text: string }> {
  const address = cluster.consul.address;
  const leader = (await cluster.client.kv.get(LEADER_KEY)).value;
  if (!leader?.session) throw new Error('no leader session to read the settings from');
  const info = await request(`${address}/v1/session/info/${leader.session}`, BOUNDED);
  const [session] = (await info.body.json()) as { TTL: string; LockDelay: number; Behavior: string }[];
  const checks = await request(`${address}/v1/agent/checks`, BOUNDED);
  const intervals = Object.values(
    (await checks.body.json()) as Record<string, { ServiceName: string; Interval?: string }>,
  )
    .filter((c) => c.ServiceName === 'appmesh-agent')
    .map((c) => c.Interval ?? '?');
  const interval = [...new Set(intervals)];
  const ttlSeconds = parseGoDurationSeconds(session?.TTL ?? '') ?? NaN;
  const livenessIntervalSeconds =
    interval.length === 1 ? (parseGoDurationSeconds(interval[0] ?? '') ?? NaN) : NaN;
  return {
    ttlSeconds,
    livenessIntervalSeconds,
    text:
      `session TTL ${session?.TTL}, LockDelay ${(session?.LockDelay ?? NaN) / 1e6} ms, Behavior ` +
      `${session?.Behavior}; appmesh-agent liveness check interval [${interval.join(', ')}] (agent defaults)`,
  };
}

/** Whether the agent build knows the polling variant's variables (an unknown APPMESH_* is ignored). */
async function pollingImplemented(): Promise<boolean> {
  const config = await readFile(resolve(CLI, '../../agent/config.js'), 'utf8');
  return Object.keys(POLLING_ENV).every((name) => config.includes(name));
}

/**
 * Polling variant: tasks applied POLLING_SPACING_MS apart without waiting, all agents polled every 5 ms,
 * each task's apply -> first running copy recorded. Overlap does not change a task's own latency: with
 * 5 s polls it is set by where its apply falls in the poll cycles.
 */
async function measurePolling(): Promise<Summary> {
  // Readiness waits for the first node report, which a polling agent may write only after its interval,
  // so the agents are taken as started once they listen, and the cluster once it has settled.
  cluster = await startCluster({ nodes: {}, agentEnv: { ...AGENT_ENV, ...POLLING_ENV } });
  for (const [node, args] of Object.entries(NODES))
    await cluster.launch(node, { args, waitFor: 'listening' });
  return measurePollingOn(cluster);
}

async function measurePollingOn(cluster: TestCluster): Promise<Summary> {
  await waitSettled(cluster);
  const appliedAt = new Map<string, number>();
  const runningMs = new Map<string, number>();
  let applying = true;
  const applies = (async () => {
    try {
      for (let i = 0; i < POLLING_TASKS; i++) {
        const name = `poll-${i}`;
        const seconds = nextSleep(cluster);
        const began = performance.now();
        appliedAt.set(name, began);
        await apply(cluster, name, { replication: 1, content: { command: `sleep ${seconds}` } });
        await new Promise((r) => setTimeout(r, Math.max(0, began + POLLING_SPACING_MS - performance.now())));
      }
    } finally {
      applying = false;
    }
  })();
  const deadline = performance.now() + POLLING_TASKS * POLLING_SPACING_MS + WAIT_MS;
  while (applying || runningMs.size < appliedAt.size) {
    if (performance.now() > deadline) throw new Error('polling baseline: tasks not running within its bound');
    const views = await Promise.all(
      [...cluster.agents.values()].map((agent: AgentProcess) =>
        applicationsOf(agent, HTTP_TIMEOUT_MS).catch(() => []),
      ),
    );
    const at = performance.now();
    for (const [name, began] of appliedAt) {
      if (!runningMs.has(name) && views.some((apps) => runningClusterCopy(apps, name)?.pid !== undefined))
        runningMs.set(name, at - began);
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  await applies;
  return summarize([...runningMs.values()]);
}

const HEADER = `${'figure'.padEnd(34)}${['n', 'min', 'p50', 'p95', 'p99', 'max'].map((h) => h.padStart(8)).join('')}`;
function row(label: string, s: Summary): string {
  const cells = [s.n, s.min, s.p50, s.p95, s.p99, s.max].map((v, i) =>
    (i === 0 ? String(v) : Number.isNaN(v) ? '-' : v.toFixed(1)).padStart(8),
  );
  return `${label.padEnd(34)}${cells.join('')}`;
}

async function versionOfConsul(): Promise<string> {
  const version = await execa(consulBinary(), ['version'], { reject: false, timeout: 10_000 });
  return version.stdout.split('\n')[0]?.trim() || `unknown (${version.stderr.trim()})`;
}

try {
  cluster = await startCluster({ nodes: NODES, agentEnv: AGENT_ENV });
  await waitSettled(cluster);
  const settings = await sessionSettings(cluster);
  console.log('cluster benchmark: 3 agents on one Consul (dev mode), all on this host');
  console.log(`  node ${process.version}; ${await versionOfConsul()}; cores ${cpus().length}`);
  console.log(`  agents: ${settings.text}`);
  const markers = await Markers.create();
  const convergence = await measureConvergence(cluster, markers).finally(() => markers.close());
  console.log(
    `convergence: ${CONVERGENCE_TASKS} tasks, replication ${REPLICAS}, one at a time, each with its own port and ` +
      `an HTTP check every 1 s; ms from the in-process apply`,
  );
  console.log(`  ${HEADER}`);
  console.log(`  ${row('apply (consistent read + CAS put)', convergence.apply)}`);
  console.log(`  ${row('placed (status key written)', convergence.placed)}`);
  console.log(`  ${row('first replica running', convergence.running)}`);
  console.log(`  ${row(`all ${REPLICAS} replicas passing`, convergence.passing)}`);

  console.log('failover (times from sending the signal; each round restarts the agent and removes its task)');
  const failover = await measureFailover(cluster, BUDGET_MS - POLLING_RESERVE_MS - CLEANUP_RESERVE_MS);
  const failoverSummary = (scenario: Scenario, figure: string) =>
    summarize((failover.get(scenario) ?? []).map((f) => f[figure] ?? NaN));
  const failoverFigures = {
    workerSigterm: failoverSummary('workerSigterm', 'moved'),
    workerSigkill: failoverSummary('workerSigkill', 'moved'),
    leaderSigterm: {
      leader: failoverSummary('leaderSigterm', 'leader'),
      task: failoverSummary('leaderSigterm', 'task'),
    },
    leaderSigkill: {
      leader: failoverSummary('leaderSigkill', 'leader'),
      task: failoverSummary('leaderSigkill', 'task'),
    },
  };
  console.log(`  ${HEADER}`);
  console.log(`  ${row('worker SIGTERM: replica moved', failoverFigures.workerSigterm)}`);
  console.log(`  ${row('worker SIGKILL: replica moved', failoverFigures.workerSigkill)}`);
  console.log(`  ${row('leader SIGTERM: new leader', failoverFigures.leaderSigterm.leader)}`);
  console.log(`  ${row('leader SIGTERM: new task running', failoverFigures.leaderSigterm.task)}`);
  console.log(`  ${row('leader SIGKILL: new leader', failoverFigures.leaderSigkill.leader)}`);
  console.log(`  ${row('leader SIGKILL: new task running', failoverFigures.leaderSigkill.task)}`);
  await cluster.close();
  cluster = undefined;

  let polling: { running: Summary } | undefined;
  if (await pollingImplemented()) {
    try {
      polling = { running: await measurePolling() };
      console.log(
        `polling variant (${Object.entries(POLLING_ENV)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')}): ${POLLING_TASKS} tasks, replication 1, applied ${POLLING_SPACING_MS} ms apart`,
      );
      console.log(`  ${HEADER}`);
      console.log(`  ${row('first replica running', polling.running)}`);
    } catch (err) {
      const message = (err as Error).message.split('\n').slice(0, 3).join(' | ');
      console.log(`polling variant: FAILED: ${message}`);
      notes.push(`Polling baseline failed, so no figures: ${message}`);
    }
  } else {
    console.log(
      `polling variant: not measured; this agent build does not know ${Object.keys(POLLING_ENV).join(', ')}`,
    );
    notes.push(
      `Polling baseline not measured: the agent build did not implement ${Object.keys(POLLING_ENV).join(' / ')}.`,
    );
  }

  notes.push(
    'Convergence starts at the in-process call of applyTask (src/cli/task-store.ts, what `appmesh apply` ' +
      'uses: a consistent read, then a CAS put), after decoding the spec as the CLI does; Node start-up of ' +
      'the CLI is excluded.',
    'Running = the first replica process ran: each task is `touch <dir>/<task>.$APPMESH_NODE; exec sleep N` ' +
      '(shell: true), and the benchmark sees the marker file appear through inotify (fs.watch), so the figure ' +
      'includes the sh start and no polling loads the agents. Placed = a blocking ' +
      `query on ${STATUS}/<task> returns it (written by the leader together with the topology). Passing = a ` +
      `blocking query on /v1/health/service/<task>?passing returns ${REPLICAS} instances; checks are HTTP to the ` +
      `agent's /appmesh/app/<task>/health every 1 s.`,
    'Path to running: apply (Consul read + write) -> leader scheduler watch -> topology/status txn -> worker ' +
      'topology watch -> app supervisor -> spawn (sh, touch). The agent records the pid in its process ledger ' +
      '(a rename without fsync) before it reports the app running.',
    `Failover: ${FAILOVER_ROUNDS} rounds planned per scenario (fewer only if the budget ran out; n says). Worker ` +
      'rounds pin a replication-1 task to the two non-leaders and time until another node runs a new pid. ' +
      'Leader rounds time until a blocking query on the leader key shows another node, then apply a task and ' +
      'time until it runs on a node other than the old leader (so the new leader did the scheduling).',
    'All agents and Consul share one host; dev-mode Consul keeps its state in memory.',
  );
  const path = await writeResult({
    name: 'cluster',
    command: 'node dist/hack/bench/cluster.js',
    figures: {
      convergence,
      failover: failoverFigures,
      polling: polling ?? null,
      settings: {
        ttlSeconds: settings.ttlSeconds,
        livenessIntervalSeconds: settings.livenessIntervalSeconds,
        pollIntervalMs: polling ? 5_000 : null,
        reportIntervalMs: polling ? 10_000 : null,
      },
    },
    notes,
  });
  console.log(`wrote ${path}; total ${ms(elapsed())}`);
} finally {
  await cluster?.close();
}
