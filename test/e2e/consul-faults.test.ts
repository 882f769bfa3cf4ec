// Consul faults (issue 7): a three-server Consul cluster loses its raft leader, and a one-server Consul
// restarts with its data. Real Consul servers, three real agents, real processes: apps must keep running
// through the fault (static stability) and the cluster must come back without operator action. Bounds
// are generous guards against hangs; the measured recovery times are printed.
import { expect } from 'chai';
import { request } from 'undici';
import { Consul } from '../../src/consul/consul.js';
import {
  startConsul,
  startConsulCluster,
  type ConsulCluster,
  type ConsulClusterServer,
  type ConsulFixture,
} from '../fixtures/consul.js';
import {
  applicationsOf,
  makeDataDir,
  pidsRunning,
  removeDataDir,
  startAgent,
  type AgentProcess,
} from '../fixtures/agent.js';
import { eventually, waitUntil } from '../fixtures/eventually.js';

const NODES = ['n1', 'n2', 'n3'] as const;
type NodeName = (typeof NODES)[number];

/** Every test app is `sleep <seconds>` with its own number, so its copies can be counted in /proc. */
const SLEEPS = ['611', '612', '613', '621', '622', '623'] as const;

/** A set of agents on one cluster, each pointed at its own Consul address, cleaned up in one place. */
class Agents {
  readonly #agents = new Map<NodeName, AgentProcess>();
  readonly #dataDirs = new Map<NodeName, string>();

  async launch(node: NodeName, consulAddress: string): Promise<AgentProcess> {
    const dataDir = this.#dataDirs.get(node) ?? (await makeDataDir());
    this.#dataDirs.set(node, dataDir);
    const agent = await startAgent({
      dataDir,
      args: ['--consul-addr', consulAddress, '--node-name', node],
      env: { APPMESH_LOG_LEVEL: 'info', APPMESH_SERVICE_RESYNC_INTERVAL: '2s' },
    });
    this.#agents.set(node, agent);
    return agent;
  }

  of(node: NodeName): AgentProcess {
    const agent = this.#agents.get(node);
    if (agent === undefined) throw new Error(`agent ${node} is not running`);
    return agent;
  }

  /** The agents' session, leadership and stop lines: what a failure report needs. */
  dumpLogs(): void {
    for (const [node, agent] of this.#agents) {
      const lines = agent
        .output()
        .split('\n')
        .filter((l) => /session|became|stopp|lost|node key/i.test(l));
      console.log(`----- ${node}\n${lines.join('\n')}`);
    }
  }

  async stopAll(): Promise<void> {
    for (const agent of this.#agents.values()) await agent.stop('SIGTERM');
    for (const dir of this.#dataDirs.values()) await removeDataDir(dir);
    this.#agents.clear();
    this.#dataDirs.clear();
  }
}

interface AppView {
  readonly name: string;
  readonly state: string;
  readonly pid?: number;
}

async function runningApps(agent: AgentProcess): Promise<Map<string, number>> {
  const apps = (await applicationsOf(agent)) as AppView[];
  return new Map(
    apps.filter((a) => a.state === 'running' && a.pid !== undefined).map((a) => [a.name, a.pid ?? 0]),
  );
}

async function readyz(agent: AgentProcess): Promise<number> {
  const response = await request(`${agent.url}/readyz`);
  await response.body.text();
  return response.statusCode;
}

/** The live pids of every test app, by argv: `sleep 611` -> sorted pids. */
async function pidsByArgv(): Promise<Record<string, number[]>> {
  const result: Record<string, number[]> = {};
  for (const seconds of SLEEPS) {
    const pids = (await pidsRunning(['sleep', seconds])).sort((a, b) => a - b);
    if (pids.length > 0) result[`sleep ${seconds}`] = pids;
  }
  return result;
}

async function killTestApps(): Promise<void> {
  for (const seconds of SLEEPS)
    for (const pid of await pidsRunning(['sleep', seconds])) process.kill(pid, 'SIGKILL');
}

/** Who holds the node key, or the leader key: the session, and the appmesh node in the value. */
async function heldKey(client: Consul, key: string): Promise<{ session: string; value: string } | undefined> {
  const entry = (await client.kv.get(key)).value;
  return entry?.session && entry.value ? { session: entry.session, value: entry.value } : undefined;
}

const putTask = (client: Consul, name: string, task: Record<string, unknown>) =>
  client.kv.put(`appmesh/cluster/tasks/${name}`, JSON.stringify(task));

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('consul faults: the raft leader of a three-server Consul dies', function () {
  this.timeout(180_000);
  let cluster: ConsulCluster;
  const clients = new Map<ConsulClusterServer, Consul>();
  const agents = new Agents();
  /** Agent i talks to server i. */
  const serverOf = (node: NodeName): ConsulClusterServer => {
    const server = cluster.servers[NODES.indexOf(node)];
    if (server === undefined) throw new Error(`no server for ${node}`);
    return server;
  };
  const clientOf = (server: ConsulClusterServer): Consul => {
    let client = clients.get(server);
    if (client === undefined) {
      client = Consul.connect({ address: server.address });
      clients.set(server, client);
    }
    return client;
  };

  before(async function () {
    cluster = await startConsulCluster(3);
    for (const node of NODES) await agents.launch(node, serverOf(node).address);
  });

  after(async function () {
    if (this.test?.parent?.tests.some((test) => test.state === 'failed')) agents.dumpLogs();
    await agents.stopAll();
    for (const client of clients.values()) await client.close();
    await cluster?.stop();
    await killTestApps();
  });

  it('keeps every app running, re-elects, reschedules on the survivors and takes the cut-off agent back', async function () {
    const consulLeader = await eventually('a consul leader', () => cluster.leader());
    const victim = NODES[cluster.servers.indexOf(consulLeader)] as NodeName;
    const survivors = NODES.filter((node) => node !== victim);
    const survivorServer = serverOf(survivors[0] as NodeName);
    const client = clientOf(survivorServer);
    await eventually('an appmesh leader', () => heldKey(client, 'appmesh/cluster/leader'));

    // `every` runs on each node; `solo` (one replica) is placed on the victim, then unpinned, so the fault
    // makes it move and the victim's return must not leave two copies.
    await putTask(client, 'every', { replication: 3, content: { command: 'sleep 611' } });
    await putTask(client, 'solo', {
      replication: 1,
      condition: { HOST_NAME: victim },
      content: { command: 'sleep 612' },
    });
    await eventually(
      'every on three nodes and solo on the victim',
      async () => {
        const on = await Promise.all(NODES.map((node) => runningApps(agents.of(node))));
        return on.every((apps) => apps.has('every')) && (await runningApps(agents.of(victim))).has('solo');
      },
      30_000,
      100,
    );
    await putTask(client, 'solo', { replication: 1, content: { command: 'sleep 612' } });
    await delay(1_000); // sticky: the unpinned replica stays on the victim
    expect((await runningApps(agents.of(victim))).has('solo')).to.equal(true);

    const appsBefore = new Map<NodeName, Map<string, number>>();
    for (const node of NODES) appsBefore.set(node, await runningApps(agents.of(node)));
    const sessionsBefore = new Map<NodeName, string | undefined>();
    for (const node of NODES)
      sessionsBefore.set(node, (await heldKey(client, `appmesh/cluster/nodes/${node}`))?.session);
    const appmeshLeaderBefore = (await heldKey(client, 'appmesh/cluster/leader'))?.value;
    console.log(
      `      consul leader ${consulLeader.nodeName} serves ${victim}; appmesh leader ${appmeshLeaderBefore}`,
    );

    const killedAt = Date.now();
    await consulLeader.kill();
    const newLeader = await eventually('a new consul leader', () => cluster.leader(), 30_000, 50);
    const electedMs = Date.now() - killedAt;
    expect(newLeader).to.not.equal(consulLeader);

    const victimKeyGoneMs = await waitUntil(
      `the node key of ${victim} gone (its session lived on the dead server)`,
      async () => (await heldKey(client, `appmesh/cluster/nodes/${victim}`)) === undefined,
      45_000,
    );
    // The survivors' sessions live on surviving servers: they must be held (kept or re-made).
    const sessionsAfter = new Map<NodeName, string>();
    for (const node of survivors) {
      const held = await eventually(`${node} node key held`, () =>
        heldKey(client, `appmesh/cluster/nodes/${node}`),
      );
      sessionsAfter.set(node, held.session);
    }
    const appmeshLeader = await eventually(
      'an appmesh leader on a survivor',
      async () => {
        const held = await heldKey(client, 'appmesh/cluster/leader');
        const node = held ? (JSON.parse(held.value) as { node: string }).node : undefined;
        return node !== undefined && node !== victim ? node : undefined;
      },
      30_000,
    );
    const soloMovedMs = await waitUntil(
      'solo running on a survivor',
      async () => {
        for (const node of survivors) if ((await runningApps(agents.of(node))).has('solo')) return true;
        return false;
      },
      30_000,
    );
    const writtenAt = Date.now();
    await putTask(client, 'fresh', { replication: 2, content: { command: 'sleep 613' } });
    await eventually(
      'fresh on both survivors',
      async () => {
        for (const node of survivors) if (!(await runningApps(agents.of(node))).has('fresh')) return false;
        return true;
      },
      30_000,
      100,
    );
    const freshMs = Date.now() - writtenAt;

    // Static stability: nothing that ran before the fault was restarted, on any agent, the cut-off one too.
    for (const node of NODES) {
      const now = await runningApps(agents.of(node));
      for (const [app, pid] of appsBefore.get(node) ?? [])
        expect(now.get(app), `${app} on ${node}`).to.equal(pid);
    }
    const cutOffReadyz = await readyz(agents.of(victim));
    const survivorSessions = survivors.map(
      (node) =>
        `${node} ${sessionsBefore.get(node) === sessionsAfter.get(node) ? 'kept' : 're-made'} its session`,
    );
    console.log(
      `      consul leader killed: new leader in ${electedMs} ms; ${victim} node key gone after ${victimKeyGoneMs} ms; ` +
        `${survivorSessions.join(', ')}; appmesh leader ${appmeshLeader}; solo moved after ${soloMovedMs} ms ` +
        `more; a new task ran on both survivors ${freshMs} ms after it was written; the cut-off ${victim} ` +
        `said /readyz ${cutOffReadyz} (it cannot know yet that its session is gone)`,
    );

    const restartedAt = Date.now();
    await consulLeader.restart();
    const victimBackMs = await waitUntil(
      `${victim} node key back and ready`,
      async () =>
        (await heldKey(client, `appmesh/cluster/nodes/${victim}`)) !== undefined &&
        (await readyz(agents.of(victim))) === 200,
      45_000,
    );
    const settled = await eventually(
      'one copy of every app per placement',
      async () => {
        const pids = await pidsByArgv();
        const counts = Object.fromEntries(Object.entries(pids).map(([argv, list]) => [argv, list.length]));
        return JSON.stringify(counts) === JSON.stringify({ 'sleep 611': 3, 'sleep 612': 1, 'sleep 613': 2 })
          ? counts
          : undefined;
      },
      45_000,
      200,
    );
    const settledMs = Date.now() - restartedAt;
    expect(settled).to.deep.equal({ 'sleep 611': 3, 'sleep 612': 1, 'sleep 613': 2 });
    // The survivors were never disturbed; what the victim runs after its return is reported.
    for (const node of survivors) {
      const now = await runningApps(agents.of(node));
      expect(now.get('every'), `every on ${node}`).to.equal(appsBefore.get(node)?.get('every'));
    }
    const victimApps = await runningApps(agents.of(victim));
    const everyKept = victimApps.get('every') === appsBefore.get(victim)?.get('every');
    console.log(
      `      server back: ${victim} node key back and ready ${victimBackMs} ms after its server was restarted, ` +
        `settled with no duplicate after ${settledMs} ms; ${victim} ${everyKept ? 'kept' : 'restarted'} its copy of every ` +
        `and runs [${[...victimApps.keys()].sort().join(', ')}]`,
    );
  });
});

describe('consul faults: the whole (one-server) Consul restarts with its data', function () {
  this.timeout(180_000);
  let consul: ConsulFixture;
  let client: Consul;
  const agents = new Agents();

  before(async function () {
    consul = await startConsul({ mode: 'server' });
    client = Consul.connect({ address: consul.address });
    for (const node of NODES) await agents.launch(node, consul.address);
  });

  after(async function () {
    if (this.test?.parent?.tests.some((test) => test.state === 'failed')) agents.dumpLogs();
    await agents.stopAll();
    await client?.close();
    await consul?.stop();
    await killTestApps();
  });

  it('stops no app during the outage and gets sessions, node keys, leader and services back alone', async function () {
    await eventually('an appmesh leader', () => heldKey(client, 'appmesh/cluster/leader'));
    await putTask(client, 'web', {
      replication: 3,
      port: 7411,
      content: { command: 'sleep 621', service: { interval: 1 } },
    });
    await putTask(client, 'batch', { replication: 2, content: { command: 'sleep 622' } });
    await eventually(
      'web passing three times and batch running twice',
      async () => {
        const passing = (await client.health.service('web', { passing: true })).value.length;
        const pids = await pidsByArgv();
        return passing === 3 && pids['sleep 621']?.length === 3 && pids['sleep 622']?.length === 2;
      },
      30_000,
      100,
    );
    const pidsBefore = await pidsByArgv();
    const sessionsBefore = await Promise.all(
      NODES.map(async (node) => (await heldKey(client, `appmesh/cluster/nodes/${node}`))?.session),
    );

    // Sample every app's pids through the outage and until the cluster is whole again.
    const samples: Array<Record<string, number[]>> = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        samples.push(await pidsByArgv());
        await delay(200);
      }
    })();
    let upAt = 0;
    try {
      await consul.restart({ downForMs: 5_000 });
      upAt = Date.now();
      const nodeKeysMs = await waitUntil(
        'node keys of n1..n3',
        async () => (await client.kv.keys('appmesh/cluster/nodes/')).length === NODES.length,
        60_000,
      );
      const leaderMs = await waitUntil(
        'a leader key',
        async () => (await heldKey(client, 'appmesh/cluster/leader')) !== undefined,
        60_000,
      );
      const servicesMs = await waitUntil(
        'web passing three times',
        async () => (await client.health.service('web', { passing: true })).value.length === 3,
        60_000,
      );
      const readyMs = await waitUntil(
        'every agent ready',
        async () => (await Promise.all(NODES.map((node) => readyz(agents.of(node))))).every((s) => s === 200),
        60_000,
      );
      const writtenAt = Date.now();
      await putTask(client, 'after', { replication: 1, content: { command: 'sleep 623' } });
      await eventually(
        'the new task running',
        async () => (await pidsRunning(['sleep', '623'])).length === 1,
        30_000,
      );
      const freshMs = Date.now() - writtenAt;
      const sessionsAfter = await Promise.all(
        NODES.map(async (node) => (await heldKey(client, `appmesh/cluster/nodes/${node}`))?.session),
      );
      const kept = NODES.filter((_, i) => sessionsBefore[i] === sessionsAfter[i]);
      console.log(
        `      consul back after 5 s down: node keys ${nodeKeysMs} ms, leader key ${leaderMs} ms, web passing ` +
          `${servicesMs} ms, all ready ${readyMs} ms after it answered; sessions kept by [${kept.join(', ')}]; ` +
          `a new task ran ${freshMs} ms after it was written`,
      );
    } finally {
      sampling = false;
      await sampler;
    }
    expect(upAt).to.be.greaterThan(0);
    const { 'sleep 623': _fresh, ...sampledBefore } = await pidsByArgv();
    expect(sampledBefore).to.deep.equal(pidsBefore);
    for (const sample of samples) {
      const { 'sleep 623': _new, ...old } = sample;
      expect(old).to.deep.equal(pidsBefore);
    }
    console.log(`      ${samples.length} pid samples through the outage: no app stopped or restarted`);
  });
});
