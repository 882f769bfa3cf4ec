// Issue 7's soak: three real agents on a real Consul take random SIGTERMs, kill -9s and restarts while
// tasks are put, scaled and deleted; after every burst of that the cluster must settle into the
// invariants below. Seeded (APPMESH_SOAK_SEED) so a failure replays; APPMESH_SOAK_SECONDS bounds it
// (60 in `make test`, 600 in `make soak`).
import { pidsRunning } from '../fixtures/agent.js';
import { useCluster, type TestCluster } from '../fixtures/cluster.js';
import { seededRandom } from '../fixtures/random.js';

const NODES = {
  n1: ['--label', 'zone=east', '--label', 'tier=web-1'],
  n2: ['--label', 'zone=east', '--label', 'tier=web-2'],
  n3: ['--label', 'zone=west', '--label', 'tier=db-1'],
} as const;
type NodeName = keyof typeof NODES;
const NODE_NAMES = Object.keys(NODES) as NodeName[];

/**
 * The conditions tasks get, with the nodes each selects written out by hand: the oracle must not share
 * the scheduler's matcher. Exact, glob and regex conditions, selecting one, two or all three nodes.
 */
const PLACEMENTS: readonly { readonly condition?: Record<string, string>; readonly eligible: NodeName[] }[] =
  [
    { eligible: ['n1', 'n2', 'n3'] },
    { condition: { zone: 'east' }, eligible: ['n1', 'n2'] },
    { condition: { tier: 'web-*' }, eligible: ['n1', 'n2'] },
    { condition: { zone: 'west' }, eligible: ['n3'] },
    { condition: { tier: '/^db-[0-9]+$/' }, eligible: ['n3'] },
    { condition: { HOST_NAME: 'n2' }, eligible: ['n2'] },
  ];

const SOAK_SECONDS = positiveInteger('APPMESH_SOAK_SECONDS', 60);
const SEED = positiveInteger('APPMESH_SOAK_SEED', Math.floor(Math.random() * 2 ** 31) + 1);
/** How long the cluster gets to settle after a burst before the round fails. */
// Generous: a guard against a cluster that never settles, not a convergence target (the bench measures that).
const QUIET_TIMEOUT_MS = 45_000;
/** A settled cluster must still be settled this much later: nothing changes in a quiet period. */
const STABLE_FOR_MS = 1_000;
const MAX_LIVE_TASKS = 8;
/** Bounds the rounds (and the unique sleep arguments below) whatever the duration. */
const MAX_ROUNDS = 500;
/**
 * Each task runs `sleep <n>` with an n no other task (and no concurrent run: it includes our pid) uses,
 * so its copies can be counted in /proc.
 */
const SLEEP_BASE = 1_000_000_000 + process.pid * 10_000;
const PORT_BASE = 40_000;
/**
 * A deleted task is checked for leftovers in this many quiet periods, then no more: each check scans
 * /proc, and a long soak deletes hundreds of tasks.
 */
const DELETED_CHECKED_FOR_ROUNDS = 3;

function positiveInteger(variable: string, fallback: number): number {
  const text = process.env[variable];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`${variable} must be a positive integer, got "${text}"`);
  return value;
}

interface SoakTask {
  readonly name: string;
  readonly argv: readonly string[];
  readonly port?: number;
  readonly placement: number;
  replication: number;
}

type Action = 'put' | 'scale' | 'delete' | 'SIGTERM' | 'SIGKILL' | 'restart';

describe('soak (random agent faults while tasks change)', function () {
  this.timeout((SOAK_SECONDS + 240) * 1000);
  before(function () {
    console.log(`      soak: ${SOAK_SECONDS} s, seed ${SEED} (replay: APPMESH_SOAK_SEED=${SEED})`);
  });
  const cluster = useCluster({ nodes: NODES, agentEnv: { APPMESH_LOG_LEVEL: 'info' } });
  const random = seededRandom(SEED);
  const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  function pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(random() * items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }

  const tasks = new Map<string, SoakTask>();
  /** Deleted tasks still checked for leftovers -> the last round that checks them. */
  const deleted = new Map<SoakTask, number>();
  let round = 0;
  let created = 0;
  const counts: Record<Action, number> = { put: 0, scale: 0, delete: 0, SIGTERM: 0, SIGKILL: 0, restart: 0 };
  let checksPassed = 0;
  let relapses = 0;

  const alive = () => NODE_NAMES.filter((node) => cluster.agents.has(node));
  const stopped = () => NODE_NAMES.filter((node) => !cluster.agents.has(node));

  function taskJson(task: SoakTask): Record<string, unknown> {
    const { condition } = PLACEMENTS[task.placement] ?? {};
    return {
      replication: task.replication,
      ...(task.port !== undefined ? { port: task.port } : {}),
      ...(condition !== undefined ? { condition } : {}),
      content: { command: task.argv.join(' ') },
    };
  }

  /**
   * The actions possible now (repeated for weight), so a burst never kills the last agent or scales a
   * task that is not there.
   */
  function possibleActions(): Action[] {
    const actions: Action[] = [];
    if (tasks.size < MAX_LIVE_TASKS) actions.push('put', 'put');
    if (tasks.size > 0) actions.push('scale', 'scale', 'delete');
    if (alive().length > 1) actions.push('SIGTERM', 'SIGKILL', 'SIGTERM', 'SIGKILL');
    if (stopped().length > 0) actions.push('restart');
    return actions;
  }

  async function perform(action: Action): Promise<string> {
    counts[action]++;
    switch (action) {
      case 'put': {
        const k = created++;
        const placement = int(0, PLACEMENTS.length - 1);
        const task: SoakTask = {
          name: `soak-${k}`,
          argv: ['sleep', String(SLEEP_BASE + k)],
          ...(random() < 0.5 ? { port: PORT_BASE + k } : {}),
          placement,
          replication: int(1, 3),
        };
        cluster.trackArgv(task.argv);
        tasks.set(task.name, task);
        await cluster.putTask(task.name, taskJson(task));
        return `put ${task.name} ${JSON.stringify(taskJson(task))}`;
      }
      case 'scale': {
        const task = pick([...tasks.values()]);
        const from = task.replication;
        task.replication = (from + int(1, 3)) % 4; // any other value in 0..3
        await cluster.putTask(task.name, taskJson(task));
        return `scale ${task.name} ${from} -> ${task.replication}`;
      }
      case 'delete': {
        const task = pick([...tasks.values()]);
        tasks.delete(task.name);
        deleted.set(task, round + DELETED_CHECKED_FOR_ROUNDS - 1);
        await cluster.deleteTask(task.name);
        return `delete ${task.name}`;
      }
      case 'SIGTERM':
      case 'SIGKILL': {
        const node = pick(alive());
        await cluster.stop(node, action);
        return `${action} ${node}`;
      }
      case 'restart': {
        const node = pick(stopped());
        await cluster.launch(node);
        return `restart ${node}`;
      }
    }
  }

  /** Everything the invariants look at, read once so a failure can print what was seen. */
  async function observe() {
    const running = new Map<string, string[]>();
    const pids = new Map<string, number>();
    for (const task of [...tasks.values(), ...deleted.keys()]) {
      running.set(task.name, await cluster.runningOn(task.name));
      pids.set(task.name, (await pidsRunning(task.argv)).length);
    }
    const statuses = new Map<string, Awaited<ReturnType<TestCluster['status']>>>();
    for (const name of [...tasks.keys(), ...[...deleted.keys()].map((task) => task.name)])
      statuses.set(name, await cluster.status(name));
    const services = Object.values(await cluster.client.agent.services())
      .filter((service) => service.Meta?.['appmesh_owner'] === 'cluster')
      .map((service) => ({
        id: service.ID,
        node: service.Meta?.['appmesh_node'] ?? '?',
        task: service.Meta?.['appmesh_task'] ?? '?',
      }));
    const taskKeys = (await cluster.client.kv.keys('appmesh/cluster/tasks/')).map((key) =>
      key.split('/').pop(),
    );
    const statusKeys = (await cluster.client.kv.keys('appmesh/cluster/status/')).map((key) =>
      key.split('/').pop(),
    );
    const nodeKeys = (await cluster.client.kv.keys('appmesh/cluster/nodes/')).map((key) =>
      key.split('/').pop(),
    );
    return {
      running,
      pids,
      statuses,
      services,
      taskKeys,
      statusKeys,
      nodeKeys,
      leader: await cluster.leaderNode(),
    };
  }
  type Observation = Awaited<ReturnType<typeof observe>>;

  /** The invariants of issue 7; returns the problems (none: they hold) and how many facts were checked. */
  function invariantProblems(seen: Observation): { problems: string[]; checked: number } {
    const problems: string[] = [];
    let checked = 0;
    const check = (ok: boolean, problem: string) => {
      checked++;
      if (!ok) problems.push(problem);
    };
    check(
      seen.nodeKeys.length === NODE_NAMES.length,
      `node keys ${seen.nodeKeys.join()}: expected all three`,
    );
    check(seen.leader !== undefined, 'no leader');
    check(
      JSON.stringify([...seen.taskKeys].sort()) === JSON.stringify([...tasks.keys()].sort()),
      `task keys in KV ${seen.taskKeys.join()} differ from the soak's ${[...tasks.keys()].join()}`,
    );
    for (const task of tasks.values()) {
      const { eligible } = PLACEMENTS[task.placement] ?? { eligible: [] };
      const want = Math.min(task.replication, eligible.length);
      const on = seen.running.get(task.name) ?? [];
      // (1) min(replication, eligible live nodes) replicas, only on eligible nodes
      check(on.length === want, `${task.name}: runs on [${on.join()}], expected ${want} node(s)`);
      check(
        on.every((node) => (eligible as string[]).includes(node)),
        `${task.name}: runs on [${on.join()}], not all in its eligible [${eligible.join()}]`,
      );
      // (2) one process per replica: no node runs two copies, no copy survives outside an agent
      const pids = seen.pids.get(task.name) ?? 0;
      check(pids === on.length, `${task.name}: ${pids} process(es) for ${on.length} running replica(s)`);
      // (3) exactly its running replicas are registered, when it has a port
      const registered = seen.services.filter((service) => service.task === task.name).map((s) => s.node);
      const expected = task.port === undefined ? [] : on;
      check(
        JSON.stringify(registered.sort()) === JSON.stringify([...expected].sort()),
        `${task.name}: services on [${registered.join()}], expected [${expected.join()}]`,
      );
      // (4) accounted for in its status
      const status = seen.statuses.get(task.name);
      check(
        status !== undefined &&
          status.desired === task.replication &&
          status.scheduled === want &&
          JSON.stringify(status.nodes) === JSON.stringify(on),
        `${task.name}: status ${JSON.stringify(status)}, expected desired ${task.replication}, scheduled ${want} on [${on.join()}]`,
      );
    }
    for (const task of deleted.keys()) {
      const on = seen.running.get(task.name) ?? [];
      const pids = seen.pids.get(task.name) ?? 0;
      check(
        on.length === 0 && pids === 0,
        `deleted ${task.name}: runs on [${on.join()}], ${pids} process(es)`,
      );
      check(!seen.statusKeys.includes(task.name), `deleted ${task.name}: its status key is still there`);
    }
    const known = new Set(
      [...tasks.values()].filter((task) => task.port !== undefined).map((task) => task.name),
    );
    for (const service of seen.services) {
      check(
        known.has(service.task) && (seen.running.get(service.task) ?? []).includes(service.node),
        `orphan service ${service.id}: ${service.task} is not running on ${service.node}`,
      );
    }
    return { problems, checked };
  }

  function dump(log: readonly string[], seen: Observation, problems: readonly string[]): string {
    const lines = [
      `soak seed ${SEED} (replay: APPMESH_SOAK_SEED=${SEED}), round ${round}: the invariants did not hold within ${QUIET_TIMEOUT_MS} ms`,
      'problems:',
      ...problems.map((p) => `  ${p}`),
      'this round:',
      ...log.map((l) => `  ${l}`),
      `leader ${seen.leader ?? '(none)'}; node keys [${seen.nodeKeys.join()}]; status keys [${seen.statusKeys.join()}]`,
      'tasks:',
      ...[...tasks.values()].map(
        (task) =>
          `  ${task.name} ${JSON.stringify(taskJson(task))} running on [${(seen.running.get(task.name) ?? []).join()}], ` +
          `${seen.pids.get(task.name)} process(es), status ${JSON.stringify(seen.statuses.get(task.name))}`,
      ),
      `services: ${seen.services.map((s) => s.id).join(' ')}`,
    ];
    for (const [node, agent] of cluster.agents) {
      const tail = agent.output().trimEnd().split('\n').slice(-15);
      lines.push(`agent ${node} (last lines):`, ...tail.map((l) => `  ${l}`));
    }
    return lines.join('\n');
  }

  /** Polls until the invariants hold twice STABLE_FOR_MS apart; throws the dump when time runs out. */
  async function settle(log: readonly string[]): Promise<void> {
    const deadline = Date.now() + QUIET_TIMEOUT_MS;
    let heldSince: number | undefined;
    for (;;) {
      const seen = await observe();
      const { problems, checked } = invariantProblems(seen);
      if (problems.length === 0) {
        if (heldSince !== undefined && Date.now() - heldSince >= STABLE_FOR_MS) {
          checksPassed += checked;
          return;
        }
        heldSince ??= Date.now();
      } else if (heldSince !== undefined) {
        relapses++;
        heldSince = undefined;
      }
      // At the deadline, invariants that hold right now get their stability wait; failing ones end the run.
      const hardDeadline = deadline + 3 * STABLE_FOR_MS;
      if ((Date.now() > deadline && problems.length > 0) || Date.now() > hardDeadline) {
        throw new Error(dump(log, seen, problems));
      }
      await new Promise((resolve) => setTimeout(resolve, heldSince === undefined ? 300 : STABLE_FOR_MS));
    }
  }

  it('keeps every invariant after each burst of faults and task changes', async function () {
    const endsAt = Date.now() + SOAK_SECONDS * 1000;
    while (Date.now() < endsAt && round < MAX_ROUNDS) {
      round++;
      const log: string[] = [];
      const burst = int(2, 4);
      for (let i = 0; i < burst; i++) {
        log.push(await perform(pick(possibleActions())));
        await new Promise((resolve) => setTimeout(resolve, int(0, 1500)));
      }
      // The invariants speak of all three nodes: bring the stopped ones back first.
      for (const node of stopped()) {
        await cluster.launch(node);
        counts.restart++;
        log.push(`restart ${node} (before the quiet period)`);
      }
      await settle(log);
      for (const [task, lastRound] of deleted) if (lastRound <= round) deleted.delete(task);
    }
    const faults = counts.SIGTERM + counts.SIGKILL;
    console.log(
      `      soak: seed ${SEED}, ${round} rounds, ${faults} faults injected (SIGTERM ${counts.SIGTERM}, ` +
        `kill -9 ${counts.SIGKILL}; restarts ${counts.restart}), task changes (put ${counts.put}, ` +
        `scale ${counts.scale}, delete ${counts.delete}), ${checksPassed} invariant checks passed in ` +
        `${round} quiet periods, ${relapses} relapse(s) before settling`,
    );
  });
});
