// One port, one app, per host: two agents on one host (as `make run` starts them) give the two replicas of a
// `dynamicPort` task two different ports, each a passing Consul instance; a failing health command turns
// one critical and its recovery turns it passing again; and a replica whose port another process takes
// gets a new port instead of crash-looping on the old one.
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HealthServiceEntryWire } from '../../api/consul.js';
import { applicationsOf } from '../fixtures/agent.js';
import { useCluster } from '../fixtures/cluster.js';
import { eventually } from '../fixtures/eventually.js';

const SERVER = `require('http').createServer((q, s) => s.end('ok')).listen(Number(process.env.PORT), '127.0.0.1')`;

describe('dynamic ports with two agents on one host (real Consul)', function () {
  this.timeout(180_000);
  // Created now: the cluster options (the agents' environment) are read when the suite is defined.
  const dir = mkdtempSync(join(tmpdir(), 'appmesh-dynamic-ports-e2e-'));
  const cluster = useCluster({
    nodes: { d1: [], d2: [] },
    // Both agents share one claim directory, as agents of one user do by default.
    agentEnv: { APPMESH_PORT_LOCK_DIR: join(dir, 'ports'), APPMESH_LOG_LEVEL: 'info' },
  });
  const servers: Server[] = [];

  after(async function () {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    rmSync(dir, { recursive: true, force: true });
  });

  async function instances(passing: boolean): Promise<HealthServiceEntryWire[]> {
    return (await cluster.client.health.service('dyn', { passing })).value;
  }
  const nodeOf = (entry: HealthServiceEntryWire) => entry.Service.Meta?.appmesh_node ?? '?';
  const portsByNode = (entries: readonly HealthServiceEntryWire[]) =>
    Object.fromEntries(entries.map((entry) => [nodeOf(entry), entry.Service.Port ?? 0]));
  const checkStatus = (entry: HealthServiceEntryWire) =>
    entry.Checks.filter((check) => (check.ServiceID ?? '') !== '').map((check) => check.Status);

  async function twoPassing(what: string): Promise<Record<string, number>> {
    return eventually(
      what,
      async () => {
        const list = await instances(true);
        return list.length === 2 ? portsByNode(list) : undefined;
      },
      60_000,
      200,
    );
  }

  /** Listens on `port` as a foreign process would, retrying while the killed app's socket goes away. */
  async function occupy(port: number): Promise<void> {
    await eventually(
      `a foreign listener on 127.0.0.1:${port}`,
      () =>
        new Promise<boolean>((resolve) => {
          const server = createServer();
          server.once('error', () => resolve(false));
          server.listen(port, '127.0.0.1', () => {
            servers.push(server);
            resolve(true);
          });
        }),
      5_000,
      5,
    );
  }

  it('gives the two replicas two ports; a failing health command turns one critical, its recovery passing', async function () {
    await cluster.putTask('dyn', {
      replication: 2,
      port: 0,
      dynamicPort: true,
      content: {
        shell: true,
        command: `exec node -e "${SERVER}"`,
        health_check_cmd: `test ! -e ${dir}/$APPMESH_NODE.down`,
        health_check_interval_seconds: 1,
        service: { interval: 1 },
      },
    });
    const ports = await twoPassing('two passing dyn instances');
    expect(Object.keys(ports).sort()).to.deep.equal(['d1', 'd2']);
    expect(ports['d1']).to.be.within(20000, 32000);
    expect(ports['d2']).to.be.within(20000, 32000);
    expect(ports['d1']).to.not.equal(ports['d2']);

    await writeFile(join(dir, 'd1.down'), '');
    await eventually(
      'd1 critical, d2 passing',
      async () => {
        const list = await instances(false);
        const d1 = list.find((entry) => nodeOf(entry) === 'd1');
        const d2 = list.find((entry) => nodeOf(entry) === 'd2');
        return (
          d1 !== undefined &&
          d2 !== undefined &&
          checkStatus(d1).includes('critical') &&
          checkStatus(d2).every((status) => status === 'passing')
        );
      },
      30_000,
      200,
    );
    await rm(join(dir, 'd1.down'));
    expect(await twoPassing('d1 passing again')).to.deep.equal(ports);
  });

  it('gives a replica a new port when another process takes its port while it restarts', async function () {
    const before = await twoPassing('two passing dyn instances');
    const d1 = cluster.agents.get('d1');
    if (d1 === undefined) throw new Error('agent d1 is not running');
    const app = (await applicationsOf(d1)).find((view) => view.name === 'dyn');
    const pid = app?.pid;
    if (pid === undefined) throw new Error(`d1 does not run dyn: ${JSON.stringify(app)}`);
    const taken = before['d1'] ?? 0;
    process.kill(pid, 'SIGKILL');
    await occupy(taken);
    const after = await eventually(
      'd1 passing on a new port',
      async () => {
        const now = await twoPassing('two passing dyn instances');
        return now['d1'] !== taken ? now : undefined;
      },
      60_000,
      200,
    );
    expect(d1.output()).to.contain('the dynamic port of a task is taken by another process');
    expect(after['d1']).to.be.within(20000, 32000);
    expect(after['d1']).to.not.equal(after['d2']);
    expect(after['d2']).to.equal(before['d2']);
  });

  it("gives an agent's port claims back when it stops, and leaves the other agent's in place", async function () {
    const ports = await twoPassing('two passing dyn instances');
    const claims = join(dir, 'ports');
    const holders = async () =>
      Object.fromEntries(
        await Promise.all(
          (await readdir(claims)).map(async (name) => {
            const { pid } = JSON.parse(await readFile(join(claims, name), 'utf8')) as { pid: number };
            return [name, pid] as const;
          }),
        ),
      );
    const d1 = cluster.agents.get('d1');
    const d2 = cluster.agents.get('d2');
    if (d1 === undefined || d2 === undefined) throw new Error('agents d1 and d2 should be running');
    expect(await holders()).to.deep.equal({ [String(ports['d1'])]: d1.pid, [String(ports['d2'])]: d2.pid });
    expect(await cluster.stop('d2')).to.equal(0);
    expect(await holders()).to.deep.equal({ [String(ports['d1'])]: d1.pid });
    await cluster.deleteTask('dyn');
    await eventually(
      'd1 gives its claim back once the task is gone',
      async () => (await readdir(claims)).length === 0,
    );
  });
});
