// Every app with a port is a healthy, discoverable Consul service: one real Consul (server mode, so it
// can be restarted with its data) shared by three real agents, as on a one-host dev cluster. Bounds are
// generous guards against hangs; the measured times are printed.
import { promises as dns } from 'node:dns';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { request as undiciRequest } from 'undici';
import type { AgentServiceWire, HealthServiceEntryWire } from '../../api/consul.js';
import { applicationsOf, authHeaders, pidsRunning, type AgentProcess } from '../fixtures/agent.js';
import { useCluster } from '../fixtures/cluster.js';
import { eventually, waitUntil } from '../fixtures/eventually.js';

const NODES = ['n1', 'n2', 'n3'] as const;
type NodeName = (typeof NODES)[number];
const SLEEPS = ['601', '602', '603', '604', '605', '606', '607'];

describe('services (real Consul, three agents)', function () {
  this.timeout(240_000);
  const cluster = useCluster({
    nodes: { n1: [], n2: [], n3: [] },
    consul: { mode: 'server' },
    // A short resync so "what Consul lost comes back" is seen in seconds, not 30.
    agentEnv: { APPMESH_LOG_LEVEL: 'info', APPMESH_SERVICE_RESYNC_INTERVAL: '2s' },
  });
  let flags: string;

  async function instances(service: string, passing = false): Promise<HealthServiceEntryWire[]> {
    return (await cluster.client.health.service(service, { passing })).value;
  }

  const nodesOf = (entries: readonly HealthServiceEntryWire[]) =>
    entries.map((entry) => entry.Service.Meta?.appmesh_node ?? '?').sort();

  /** This Consul agent's services that appmesh registered, by ID. */
  async function appmeshServices(): Promise<AgentServiceWire[]> {
    const all = await cluster.client.agent.services();
    return Object.values(all)
      .filter((service) => service.Meta?.appmesh_node !== undefined)
      .sort((a, b) => a.ID.localeCompare(b.ID));
  }

  /** undici's request, with the API token of the agent the URL points at. */
  function request(
    url: string,
    options: {
      method?: 'GET' | 'PUT' | 'POST' | 'DELETE';
      body?: string;
      headers?: Record<string, string>;
    } = {},
  ) {
    const agent = [...cluster.agents.values()].find((a) => url.startsWith(`${a.url}/`));
    return undiciRequest(url, {
      ...options,
      headers: { ...options.headers, ...(agent === undefined ? {} : authHeaders(agent)) },
    });
  }

  async function get(url: string): Promise<{ status: number; text: string }> {
    const response = await request(url);
    return { status: response.statusCode, text: await response.body.text() };
  }

  const agentOf = (node: NodeName): AgentProcess => {
    const agent = cluster.agents.get(node);
    if (agent === undefined) throw new Error(`agent ${node} is not running`);
    return agent;
  };

  before(async function () {
    flags = await mkdtemp(join(tmpdir(), 'appmesh-svc-'));
    for (const seconds of SLEEPS) cluster.trackArgv(['sleep', seconds]);
  });

  after(async function () {
    await rm(flags, { recursive: true, force: true });
  });

  it('shows a task with a port on three nodes as three passing instances, and follows their health', async function () {
    const started = Date.now();
    await cluster.putTask('web', {
      replication: 3,
      port: 7201,
      content: {
        shell: true,
        command: 'exec sleep 601',
        // Each node's copy is unhealthy while the test's flag file for that node exists.
        health_check_cmd: `test ! -e ${flags}/sick-$APPMESH_NODE`,
        health_check_interval_seconds: 1,
        service: { tags: ['v1'], interval: 1, timeout: 1 },
      },
    });
    const passing = await eventually(
      'three passing web instances',
      async () => {
        const found = await instances('web', true);
        return found.length === 3 ? found : undefined;
      },
      30_000,
      50,
    );
    console.log(`      web: three instances passing ${Date.now() - started} ms after the task was written`);
    expect(nodesOf(passing)).to.deep.equal(['n1', 'n2', 'n3']);
    const n2 = passing.find((entry) => entry.Service.Meta?.appmesh_node === 'n2');
    expect(n2?.Service).to.deep.include({
      ID: 'appmesh-n2-web',
      Service: 'web',
      Port: 7201,
      Address: '127.0.0.1',
    });
    expect(n2?.Service.Tags).to.deep.equal(['appmesh', 'v1']);
    expect(n2?.Service.Meta).to.deep.equal({
      appmesh_node: 'n2',
      appmesh_task: 'web',
      appmesh_owner: 'cluster',
    });

    await writeFile(join(flags, 'sick-n2'), '');
    const criticalMs = await waitUntil('n2 web critical', async () =>
      (await instances('web')).some(
        (entry) => entry.Service.ID === 'appmesh-n2-web' && entry.Checks.some((c) => c.Status === 'critical'),
      ),
    );
    console.log(`      web on n2: critical ${criticalMs} ms after its health check began to fail`);
    expect(nodesOf(await instances('web', true))).to.deep.equal(['n1', 'n3']);
    await rm(join(flags, 'sick-n2'));
    const recoveredMs = await waitUntil(
      'n2 web passing again',
      async () => (await instances('web', true)).length === 3,
    );
    console.log(`      web on n2: passing again ${recoveredMs} ms after it recovered`);
  });

  it('keeps the check output stable while the health does not change', async function () {
    const output = async () =>
      (await cluster.client.agent.checks())['appmesh-n1-web-health']?.Output ?? '(no check)';
    const first = await output();
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(await output()).to.equal(first);
    const health = await get(`${agentOf('n1').url}/appmesh/app/web/health`);
    expect(health).to.deep.equal({ status: 200, text: 'healthy\n' });
  });

  it('answers SRV queries for <app>.service.consul with the passing instances', async function () {
    if (cluster.consul.dnsPort === undefined) this.skip();
    // One local app per agent under one service name, on distinct ports: on this single host, equal
    // ports would make the three SRV records one.
    const ports = { n1: 7301, n2: 7302, n3: 7303 } as const;
    for (const node of NODES) {
      const put = await request(`${agentOf(node).url}/appmesh/app/dns-${node}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          shell: true,
          command: 'exec sleep 601',
          port: ports[node],
          health_check_cmd: `test ! -e ${flags}/sick-dns-${node}`,
          health_check_interval_seconds: 1,
          service: { name: 'dns', interval: 1, timeout: 1 },
        }),
      });
      expect(put.statusCode).to.equal(201);
      await put.body.text();
    }
    await eventually(
      'three passing dns instances',
      async () => (await instances('dns', true)).length === 3,
      30_000,
    );
    const resolver = new dns.Resolver();
    resolver.setServers([`127.0.0.1:${cluster.consul.dnsPort}`]);
    const srvPorts = async () => (await resolver.resolveSrv('dns.service.consul')).map((r) => r.port).sort();
    expect(await srvPorts()).to.deep.equal([7301, 7302, 7303]);
    await writeFile(join(flags, 'sick-dns-n3'), '');
    await eventually('n3 out of DNS', async () => (await srvPorts()).join() === '7301,7302');
    await rm(join(flags, 'sick-dns-n3'));
    await eventually('n3 back in DNS', async () => (await srvPorts()).length === 3);
    for (const node of NODES) {
      await (await request(`${agentOf(node).url}/appmesh/app/dns-${node}`, { method: 'DELETE' })).body.text();
    }
    await eventually('dns instances gone', async () => (await instances('dns')).length === 0);
  });

  it('removes the instance of a descheduled replica and of a disabled app at once, and moves a moved one', async function () {
    const started = Date.now();
    await cluster.putTask('web', {
      replication: 2,
      port: 7201,
      content: { shell: true, command: 'exec sleep 601', service: { tags: ['v1'], interval: 1, timeout: 1 } },
    });
    await eventually('two web instances', async () => (await instances('web')).length === 2, 30_000, 20);
    console.log(`      web: descheduled instance gone ${Date.now() - started} ms after the task was written`);

    const n1 = agentOf('n1');
    const put = await request(`${n1.url}/appmesh/app/local-api`, {
      method: 'PUT',
      body: JSON.stringify({
        command: 'sleep 602',
        port: 7202,
        service: { name: 'api', check: 'tcp', tags: ['x'] },
      }),
      headers: { 'content-type': 'application/json' },
    });
    expect(put.statusCode).to.equal(201);
    await put.body.text();
    const local = await eventually('local-api registered', async () => (await instances('api'))[0]);
    expect(local.Service).to.deep.include({ ID: 'appmesh-n1-local-api', Port: 7202 });
    expect(local.Service.Meta?.appmesh_owner).to.equal('local');
    const disabledAt = Date.now();
    const disable = await request(`${n1.url}/appmesh/app/local-api/disable`, { method: 'POST' });
    await disable.body.text();
    await waitUntil('local-api deregistered', async () => (await instances('api')).length === 0);
    console.log(`      local-api: instance gone ${Date.now() - disabledAt} ms after disable`);
    await (await request(`${n1.url}/appmesh/app/local-api`, { method: 'DELETE' })).body.text();

    await cluster.putTask('mover', {
      replication: 1,
      port: 7204,
      condition: { HOST_NAME: 'n1' },
      content: { command: 'sleep 604', service: { interval: 1 } },
    });
    await eventually(
      'mover on n1',
      async () => nodesOf(await instances('mover', true)).join() === 'n1',
      30_000,
    );
    await cluster.putTask('mover', {
      replication: 1,
      port: 7204,
      condition: { HOST_NAME: 'n2' },
      content: { command: 'sleep 604', service: { interval: 1 } },
    });
    await eventually('mover on n2', async () => nodesOf(await instances('mover')).join() === 'n2', 30_000);
    await eventually(
      'mover passing on n2',
      async () => (await instances('mover', true)).length === 1,
      30_000,
    );
  });

  it('starts a cluster app with APPMESH_PEERS and serves the live peer list', async function () {
    const content = {
      shell: true,
      command: 'echo PEERS=$APPMESH_PEERS; exec sleep 603',
      service: { interval: 1 },
    };
    await cluster.putTask('peer', { replication: 3, port: 7203, content });
    await eventually('three passing peers', async () => (await instances('peer', true)).length === 3, 30_000);
    const n3 = agentOf('n3');
    const others = await eventually('n3 sees two peers', async () => {
      const { status, text } = await get(`${n3.url}/appmesh/app/peer/peers`);
      const peers = status === 200 ? (JSON.parse(text) as string[]) : [];
      return peers.length === 2 ? peers : undefined;
    });
    expect(others).to.deep.equal(['127.0.0.1:7203', '127.0.0.1:7203']);
    // The first copies started together, before any was passing; a restart launches with the live list.
    await (await request(`${n3.url}/appmesh/app/peer/restart`, { method: 'POST' })).body.text();
    const line = await eventually('PEERS in n3 output', async () => {
      const lines = (await get(`${n3.url}/appmesh/app/peer/output`)).text.split('\n');
      const last = lines.filter((l) => l.startsWith('PEERS=')).at(-1);
      return last === 'PEERS=127.0.0.1:7203,127.0.0.1:7203' ? last : undefined;
    });
    expect(line).to.equal('PEERS=127.0.0.1:7203,127.0.0.1:7203');

    const pid = (JSON.parse((await get(`${n3.url}/appmesh/app/peer`)).text) as { pid: number }).pid;
    await cluster.putTask('peer', { replication: 2, port: 7203, content });
    await eventually('two peer instances', async () => (await instances('peer')).length === 2, 30_000);
    const remaining = nodesOf(await instances('peer'));
    for (const node of remaining) {
      await eventually(`${node} sees one peer`, async () => {
        const { text } = await get(`${agentOf(node as NodeName).url}/appmesh/app/peer/peers`);
        return (JSON.parse(text) as string[]).length === 1;
      });
    }
    if (remaining.includes('n3')) {
      // The peer list changed under it, and it was not restarted for that.
      expect((JSON.parse((await get(`${n3.url}/appmesh/app/peer`)).text) as { pid: number }).pid).to.equal(
        pid,
      );
    }
  });

  it('gives a dynamicPort task a free port from the range as PORT, and port 0 alone no service', async function () {
    await cluster.putTask('dyn', {
      replication: 2,
      port: 0,
      dynamicPort: true,
      content: { shell: true, command: 'echo PORT=$PORT; exec sleep 605', service: { interval: 1 } },
    });
    const found = await eventually(
      'two dyn instances',
      async () => {
        const list = await instances('dyn', true);
        return list.length === 2 ? list : undefined;
      },
      30_000,
    );
    for (const entry of found) {
      const port = entry.Service.Port ?? 0;
      expect(port).to.be.within(20000, 32000);
      const node = entry.Service.Meta?.appmesh_node as NodeName;
      await eventually(`${node} dyn output`, async () =>
        (await get(`${agentOf(node).url}/appmesh/app/dyn/output`)).text.includes(`PORT=${port}`),
      );
    }
    await cluster.putTask('noport', { replication: 1, port: 0, content: { command: 'sleep 606' } });
    await eventually(
      'noport running',
      async () => (await pidsRunning(['sleep', '606'])).length === 1,
      30_000,
    );
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await instances('noport')).to.deep.equal([]);
    await cluster.deleteTask('noport');
    await cluster.deleteTask('dyn');
  });

  it('leaves no duplicate or orphan registration after a kill -9 and restart, and never touches a hand-made service', async function () {
    await cluster.client.agent.registerService({
      id: 'handmade',
      name: 'handmade',
      port: 9999,
      tags: ['appmesh'],
    });
    await cluster.client.agent.registerService({
      id: 'handmade-n1',
      name: 'handmade',
      port: 9998,
      meta: { node: 'n1' },
    });
    await cluster.putTask('pinned', {
      replication: 1,
      port: 7205,
      condition: { HOST_NAME: 'n1' },
      content: { command: 'sleep 607' },
    });
    await eventually('pinned on n1', async () => (await instances('pinned', true)).length === 1, 30_000);

    await cluster.stop('n1', 'SIGKILL');
    // Deleted while n1 is down: its registration is now what a crash leaves behind.
    await cluster.deleteTask('pinned');
    expect((await instances('pinned')).map((e) => e.Service.ID)).to.deep.equal(['appmesh-n1-pinned']);
    await eventually(
      'n1 node key gone',
      async () =>
        !(await cluster.client.kv.keys('appmesh/cluster/nodes/')).includes('appmesh/cluster/nodes/n1'),
      20_000,
    );

    const restartedAt = Date.now();
    const n1 = await cluster.launch('n1');
    await waitUntil('orphan removed', async () => (await instances('pinned')).length === 0, 20_000);
    console.log(
      `      n1 restarted: orphan registration removed ${Date.now() - restartedAt} ms after the restart`,
    );
    // What every agent runs with a port is exactly what is registered: no duplicates, no leftovers.
    await eventually(
      'registrations match the running apps',
      async () => {
        const expected: string[] = [];
        for (const [node, agent] of cluster.agents) {
          for (const app of await applicationsOf(agent))
            if (app.port !== undefined && app.state === 'running')
              expected.push(`appmesh-${node}-${app.name}`);
        }
        const actual = (await appmeshServices()).map((s) => s.ID);
        return JSON.stringify(actual) === JSON.stringify(expected.sort());
      },
      30_000,
      200,
    );
    expect(n1.url).to.be.a('string');
    const all = await cluster.client.agent.services();
    expect(all['handmade']).to.not.equal(undefined);
    expect(all['handmade-n1']).to.not.equal(undefined);
  });

  it('registers again what the local Consul agent lost, and comes back after a Consul restart', async function () {
    await cluster.client.agent.deregisterService('appmesh-n2-web');
    const lostMs = await waitUntil(
      'appmesh-n2-web back',
      async () => (await cluster.client.agent.services())['appmesh-n2-web'] !== undefined,
    );
    console.log(`      appmesh-n2-web registered again ${lostMs} ms after Consul lost it`);

    const before = (await appmeshServices()).map((s) => s.ID);
    await cluster.consul.restart({ downForMs: 3_000 });
    const backMs = await waitUntil(
      'services back after the Consul restart',
      async () => {
        const now = (await appmeshServices()).map((s) => s.ID);
        return JSON.stringify(now) === JSON.stringify(before) && (await instances('web', true)).length === 2;
      },
      60_000,
    );
    console.log(`      services back and web passing ${backMs} ms after Consul came back`);
    expect((await cluster.client.agent.services())['handmade']).to.not.equal(undefined);
  });

  it('deregisters every service of an agent stopped with SIGTERM', async function () {
    for (const node of NODES) {
      expect(await cluster.stop(node, 'SIGTERM')).to.equal(0);
    }
    expect(await appmeshServices()).to.deep.equal([]);
    const left = await cluster.client.agent.services();
    expect(Object.keys(left)).to.include.members(['handmade', 'handmade-n1']);
  });
});
