// Benchmark: three agents (n1..n3) on one real Consul (dev mode). Prints how long a cluster task takes
// from its KV write to a running process, and how long failover takes when a worker or the leader is
// stopped (SIGTERM) or killed (SIGKILL). Numbers are printed, not asserted; every wait is bounded.
// Run: npx tsc -p tsconfig.json --outDir .build-bench && \
//      CONSUL_BIN=$(hack/install-consul.sh) node .build-bench/hack/bench/cluster.js
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import { request } from 'undici';
import { consulBinary } from '../../test/fixtures/consul.js';
import {
  applicationsOf,
  pidsRunning,
  runningClusterCopy,
  type AgentProcess,
} from '../../test/fixtures/agent.js';
import { leaderOf, startCluster } from '../../test/fixtures/cluster.js';
import { eventually } from '../../test/fixtures/eventually.js';

const CONVERGENCE_TASKS = 50;
const FAILOVER_ROUNDS = 3;
/** The measurements must end by then (from start-up) so that clean-up fits in about five minutes. */
const BUDGET_MS = 270_000;
/** Kept free for the shutdown of agents and Consul after the last round. */
const CLEANUP_RESERVE_MS = 20_000;
const WAIT_MS = 60_000;
/** One poll asks all three agents (about 1 ms in total); a /proc scan takes tens of ms here. */
const POLL_MS = 5;
/** undici's own timers for the bench's direct HTTP calls (agents and Consul answer in ms). */
const HTTP_TIMEOUT_MS = 2_000;
const BOUNDED = { headersTimeout: HTTP_TIMEOUT_MS, bodyTimeout: HTTP_TIMEOUT_MS } as const;
const TASKS = 'appmesh/cluster/tasks';
const LEADER_KEY = 'appmesh/cluster/leader';
const NODE_KEYS = 'appmesh/cluster/nodes/';

const NODES = {
  n1: ['--label', 'zone=east', '--label', 'tier=web-1'],
  n2: ['--label', 'zone=east', '--label', 'tier=web-2'],
  n3: ['--label', 'zone=west', '--label', 'tier=db-1'],
};
const NODE_NAMES = Object.keys(NODES);

/** A running copy of a task as an agent reports it, and when the report arrived. */
interface Sighting {
  readonly node: string;
  readonly pid: number;
  readonly at: number;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

const ms = (value: number): string => `${Math.round(value)} ms`;

const startedAt = performance.now();
const elapsed = (): number => performance.now() - startedAt;
const cluster = await startCluster({ nodes: NODES, agentEnv: { APPMESH_LOG_LEVEL: 'warn' } });

// Unique `sleep` arguments per run, so the /proc checks and the clean-up never touch another run's copies.
const SLEEP_BASE = 90_000_000 + (process.pid % 100_000) * 100;
let sleepsUsed = 0;
function nextSleep(): number {
  const seconds = SLEEP_BASE + sleepsUsed++;
  cluster.trackArgv(['sleep', String(seconds)]);
  return seconds;
}

/**
 * Sends `signal` to an agent and resolves when it has exited, with how it ended and how long that took.
 * A SIGTERM that does not end the agent within 30 s is followed by SIGKILL, so this is bounded too.
 */
async function stopAgent(
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
  const how = code === undefined ? 'was killed by the signal' : `exited ${code}`;
  return {
    exit: first === 'timeout' ? `${how} (SIGKILL after 30 s of SIGTERM)` : how,
    exitedMs: performance.now() - sent,
  };
}

const appsOf = (agent: AgentProcess) => applicationsOf(agent, HTTP_TIMEOUT_MS);

/** The running, cluster-owned copies of `task` the live agents report, stamped when the answers arrived. */
async function sightings(task: string): Promise<Sighting[]> {
  const found = await Promise.all(
    [...cluster.agents].map(async ([node, agent]) => {
      try {
        const app = runningClusterCopy(await appsOf(agent), task);
        return app?.pid !== undefined ? [{ node, pid: app.pid, at: performance.now() }] : [];
      } catch {
        return []; // an agent that is stopping does not answer: it runs nothing we can count on
      }
    }),
  );
  return found.flat();
}

function waitRunning(task: string, accept: (s: Sighting) => boolean = () => true): Promise<Sighting> {
  return eventually(`${task} running`, async () => (await sightings(task)).find(accept), WAIT_MS, POLL_MS);
}

async function putTask(name: string, seconds: number, condition?: Record<string, string>): Promise<void> {
  await cluster.putTask(name, {
    replication: 1,
    content: { command: `sleep ${seconds}` },
    ...(condition ? { condition } : {}),
  });
}

async function waitNoCopies(seconds: number): Promise<void> {
  await eventually(
    `no sleep ${seconds} left`,
    async () => (await pidsRunning(['sleep', String(seconds)])).length === 0,
    WAIT_MS,
    50,
  );
}

/** Follows the leader key with blocking queries, so a change is seen the moment Consul commits it. */
async function waitLeaderOtherThan(previous: string): Promise<{ node: string; at: number }> {
  const deadline = performance.now() + WAIT_MS;
  let index = 0;
  for (;;) {
    const left = deadline - performance.now();
    if (left <= 0) throw new Error(`no leader other than ${previous} within ${WAIT_MS} ms`);
    const waitSeconds = Math.max(1, Math.min(5, Math.floor(left / 1000)));
    const read = await cluster.client.kv.get(LEADER_KEY, { index, waitSeconds });
    const node = leaderOf(read.value);
    if (node !== undefined && node !== previous) return { node, at: performance.now() };
    index = read.index < index ? 0 : read.index;
  }
}

/** All three agents answer, own their node keys, and one of them holds the leader key. */
async function waitSettled(): Promise<string> {
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

async function restart(node: string): Promise<number> {
  const began = performance.now();
  await cluster.launch(node);
  await eventually(
    `${node} node key`,
    async () => (await cluster.client.kv.keys(NODE_KEYS)).includes(`${NODE_KEYS}${node}`),
    WAIT_MS,
    POLL_MS,
  );
  return performance.now() - began;
}

async function removeTask(name: string, seconds: number): Promise<void> {
  await cluster.deleteTask(name);
  await waitNoCopies(seconds);
}

async function versions(): Promise<{ consulVersion: string; settings: string }> {
  const version = await execa(consulBinary(), ['version'], { reject: false, timeout: 10_000 });
  const consulVersion = version.stdout.split('\n')[0]?.trim() || `unknown (${version.stderr.trim()})`;
  // What Consul holds, not what we assume: the leader's session and the agents' liveness checks.
  const address = cluster.consul.address;
  const leader = (await cluster.client.kv.get(LEADER_KEY)).value;
  let settings = 'session TTL 30s and liveness check interval 1s (agent defaults; no flags passed)';
  if (leader?.session) {
    const info = await request(`${address}/v1/session/info/${leader.session}`, BOUNDED);
    const [session] = (await info.body.json()) as {
      TTL: string;
      LockDelay: number;
      Behavior: string;
      NodeChecks: string[] | null;
      ServiceChecks: { ID: string }[] | null;
    }[];
    const checks = await request(`${address}/v1/agent/checks`, BOUNDED);
    const intervals = Object.values(
      (await checks.body.json()) as Record<
        string,
        { ServiceName: string; Interval?: string; Definition?: { Interval?: string } }
      >,
    )
      .filter((c) => c.ServiceName === 'appmesh-agent')
      .map((c) => c.Interval || c.Definition?.Interval || '?');
    if (session) {
      settings +=
        `\n  consul reports: session TTL ${session.TTL}, LockDelay ${session.LockDelay / 1e6} ms, ` +
        `Behavior ${session.Behavior}, NodeChecks [${(session.NodeChecks ?? []).join(', ')}], ` +
        `${(session.ServiceChecks ?? []).length} service check(s); appmesh-agent check interval ` +
        `[${[...new Set(intervals)].join(', ')}]`;
    }
  }
  return { consulVersion, settings };
}

async function measureConvergence(): Promise<void> {
  const latencies: number[] = [];
  const placedOn = new Map<string, number>();
  const used: number[] = [];
  for (let i = 0; i < CONVERGENCE_TASKS; i++) {
    const name = `conv-${i}`;
    const seconds = nextSleep();
    used.push(seconds);
    const written = performance.now();
    await putTask(name, seconds);
    const seen = await waitRunning(name);
    latencies.push(seen.at - written);
    placedOn.set(seen.node, (placedOn.get(seen.node) ?? 0) + 1);
  }
  const first = latencies[0] ?? NaN;
  latencies.sort((a, b) => a - b);
  console.log(
    `convergence (${CONVERGENCE_TASKS} tasks, replication 1, written one at a time; KV PUT -> first ` +
      `agent reporting it running with a pid, polled every ${POLL_MS} ms via GET /appmesh/applications;\n` +
      `  an agent reports running after the exec and after recording the pid in its ledger)`,
  );
  console.log(
    `  p50 ${ms(percentile(latencies, 50))}  p95 ${ms(percentile(latencies, 95))}  max ` +
      `${ms(latencies[latencies.length - 1] ?? NaN)}  min ${ms(latencies[0] ?? NaN)}  first ${ms(first)}  ` +
      `placed ${NODE_NAMES.map((n) => `${n}:${placedOn.get(n) ?? 0}`).join(' ')}`,
  );

  // One recursive delete, then every copy must be gone from /proc.
  const deleted = performance.now();
  await cluster.client.kv.delete(`${TASKS}/conv-`, { recurse: true });
  await eventually(
    'no agent listing a conv- task',
    async () =>
      (await Promise.all([...cluster.agents.values()].map(appsOf))).every((apps) =>
        apps.every((a) => !a.name.startsWith('conv-')),
      ),
    WAIT_MS,
    POLL_MS,
  );
  const unlisted = performance.now() - deleted;
  for (const seconds of used) await waitNoCopies(seconds);
  console.log(
    `  delete all (one recursive KV delete): gone from every agent's list in ${ms(unlisted)}, ` +
      `every copy confirmed gone from /proc ${ms(performance.now() - deleted)} after the delete ` +
      `(${used.length} sequential /proc scans of tens of ms each: mostly scan time, an upper bound)`,
  );
}

type Scenario = 'a' | 'b' | 'c' | 'd';
const SCENARIOS: Record<Scenario, { title: string; signal: 'SIGTERM' | 'SIGKILL' }> = {
  a: { title: '(a) worker SIGTERM', signal: 'SIGTERM' },
  b: { title: '(b) worker SIGKILL', signal: 'SIGKILL' },
  c: { title: '(c) leader SIGKILL', signal: 'SIGKILL' },
  d: { title: '(d) leader SIGTERM', signal: 'SIGTERM' },
};
/** Per scenario, the figures of each sample by name (e.g. `moved`, `leader`, `task`). */
const samples = new Map<Scenario, Record<string, number>[]>();

function record(scenario: Scenario, figures: Record<string, number>): void {
  samples.set(scenario, [...(samples.get(scenario) ?? []), figures]);
}

/** A task pinned to the two non-leaders, placed on one of them; that worker is stopped or killed. */
async function workerRound(scenario: 'a' | 'b', round: number): Promise<void> {
  const { title, signal } = SCENARIOS[scenario];
  const leader = await waitSettled();
  const workers = NODE_NAMES.filter((n) => n !== leader);
  const name = `worker-${scenario}-${round}`;
  const seconds = nextSleep();
  await putTask(name, seconds, { HOST_NAME: `/${workers.join('|')}/` });
  const placed = await waitRunning(name);

  const killed = performance.now();
  const [exit, moved] = await Promise.all([
    stopAgent(placed.node, signal),
    waitRunning(name, (s) => s.node !== placed.node && s.pid !== placed.pid),
  ]);
  const oldPidAlive = (await pidsRunning(['sleep', String(seconds)])).includes(placed.pid);

  const backMs = await restart(placed.node);
  const reapStarted = performance.now();
  await eventually(
    `one copy of ${name}`,
    async () => (await pidsRunning(['sleep', String(seconds)])).length === 1,
    WAIT_MS,
    50,
  );
  const reapMs = performance.now() - reapStarted;
  record(scenario, { moved: moved.at - killed });
  console.log(
    `  ${title} #${round}  ${placed.node} -> ${moved.node}  moved in ${ms(moved.at - killed)}  ` +
      `(leader ${leader}; agent ${exit.exit} after ${ms(exit.exitedMs)}; old pid alive ` +
      `after exit: ${oldPidAlive ? 'yes' : 'no'}; restart -> node key ${ms(backMs)}; ` +
      `one copy left ${ms(reapMs)} after that)`,
  );
  await removeTask(name, seconds);
}

/** The leader goes; a task written right after must still be placed, by the next leader. */
async function leaderRound(scenario: 'c' | 'd', round: number): Promise<void> {
  const { title, signal } = SCENARIOS[scenario];
  const leader = await waitSettled();
  const name = `leader-${scenario}-${round}`;
  const seconds = nextSleep();

  const killed = performance.now();
  let writtenMs = NaN;
  const [exit, next, running] = await Promise.all([
    stopAgent(leader, signal),
    waitLeaderOtherThan(leader),
    putTask(name, seconds).then(() => {
      writtenMs = performance.now() - killed;
      return waitRunning(name, (s) => s.node !== leader);
    }),
  ]);

  const backMs = await restart(leader);
  record(scenario, { leader: next.at - killed, task: running.at - killed });
  console.log(
    `  ${title} #${round}  ${leader} -> ${next.node}  new leader in ${ms(next.at - killed)}; task ` +
      `written +${ms(writtenMs)}, running on ${running.node} ${ms(running.at - killed)} after the kill  ` +
      `(agent ${exit.exit} after ${ms(exit.exitedMs)}; restart -> node key ${ms(backMs)})`,
  );
  await removeTask(name, seconds);
}

async function measureFailover(): Promise<void> {
  console.log(
    'failover (replication 1; running = an agent other than the stopped one reports a new pid, polled ' +
      `every ${POLL_MS} ms; leader = a blocking query on ${LEADER_KEY} sees a session and another node; ` +
      'times from sending the signal)',
  );
  const order: Scenario[] = ['a', 'b', 'c', 'd'];
  let slowestRoundMs = 0;
  for (let round = 1; round <= FAILOVER_ROUNDS; round++) {
    for (const scenario of order) {
      // The first round always runs; later ones only while the rest of the budget allows them.
      const left = BUDGET_MS - elapsed();
      if (round > 1 && left < 2 * slowestRoundMs + CLEANUP_RESERVE_MS) {
        console.log(`  ${SCENARIOS[scenario].title} #${round}  skipped: ${ms(left)} of the budget left`);
        continue;
      }
      const began = performance.now();
      if (scenario === 'a' || scenario === 'b') await workerRound(scenario, round);
      else await leaderRound(scenario, round);
      slowestRoundMs = Math.max(slowestRoundMs, performance.now() - began);
    }
  }
  console.log('  summary (min / median / max over the samples above)');
  for (const scenario of order) {
    const figures = samples.get(scenario) ?? [];
    const names = Object.keys(figures[0] ?? {});
    const parts = names.map((figure) => {
      const values = figures.map((f) => f[figure] ?? NaN).sort((x, y) => x - y);
      const median = percentile(values, 50);
      return `${figure} ${ms(values[0] ?? NaN)} / ${ms(median)} / ${ms(values[values.length - 1] ?? NaN)}`;
    });
    console.log(`    ${SCENARIOS[scenario].title}  n=${figures.length}  ${parts.join('  ')}`);
  }
}

try {
  await waitSettled();
  const { consulVersion, settings } = await versions();
  console.log(`cluster benchmark: 3 agents on one Consul (dev mode), all on this host`);
  console.log(`  node ${process.version}; ${consulVersion}; cores ${cpus().length}`);
  console.log(`  agents: ${settings}`);
  await measureConvergence();
  await measureFailover();
  console.log(`total ${ms(elapsed())}`);
} finally {
  await cluster.close();
}
