// ClusterView against a real Consul: the web UI's picture of nodes, tasks (with running and passing
// replicas from the node reports) and topology, built from the watches; a bad task value shows as
// invalid without hiding the others; changes arrive on the stream; a request's lease on the watches ends.
import { expect } from 'chai';
import { firstValueFrom, filter } from 'rxjs';
import { exponentialBackoff } from '../../src/core/backoff.js';
import { ClusterView } from '../../src/agent/cluster-view.js';
import type { Consul } from '../../src/consul/consul.js';
import { useConsul } from '../fixtures/consul-suite.js';
import { waitUntil } from '../fixtures/eventually.js';

const GiB = 1024 ** 3;

function report(node: string, leader: boolean, apps: Record<string, unknown>): Record<string, unknown> {
  return {
    appmesh: `http://127.0.0.1:60${node.slice(1)}0`,
    label: { HOST_NAME: node, zone: 'east' },
    leader,
    resource: { cpu_cores: 2, mem_total_bytes: 8 * GiB, mem_free_bytes: 4 * GiB },
    apps,
    version: '0.1.0',
  };
}

describe('ClusterView (real Consul)', function () {
  this.timeout(30_000);
  const suite = useConsul();
  let consul: Consul;
  let view: ClusterView | undefined;
  const prefix = 'view1';

  before(async function () {
    ({ consul } = suite);
    const running = (health: string) => ({ owner: 'cluster', state: 'running', health });
    await consul.kv.put(`${prefix}/cluster/nodes/n1`, report('n1', true, { web: running('healthy') }));
    await consul.kv.put(
      `${prefix}/cluster/nodes/n2`,
      report('n2', false, { web: running('unhealthy'), mine: { owner: 'local', state: 'running' } }),
    );
    await consul.kv.put(`${prefix}/cluster/tasks/web`, {
      replication: 3,
      port: 8080,
      content: { name: 'web', command: 'sleep 600' },
    });
    await consul.kv.put(`${prefix}/cluster/tasks/bad`, { replication: 'many', content: {} });
    await consul.kv.put(`${prefix}/cluster/status/web`, {
      desired: 3,
      scheduled: 2,
      nodes: ['n1', 'n2'],
      unschedulable: 1,
      reasons: ['1 replica: no third node'],
    });
    const at = '2026-01-01T00:00:00.000Z';
    await consul.kv.put(`${prefix}/cluster/topology/n1`, [{ app: 'web', schedule_time: at }]);
    await consul.kv.put(`${prefix}/cluster/topology/n2`, [{ app: 'web', schedule_time: at }]);
  });

  afterEach(function () {
    view?.stop();
    view = undefined;
  });

  const open = (idleMs = 60_000) =>
    (view = new ClusterView({
      consul,
      prefix,
      idleMs,
      watchOptions: { backoff: exponentialBackoff({ initialMs: 50, maxMs: 300 }), minIntervalMs: 10 },
    }));

  it('shows the nodes, the leader, each task with its running and passing replicas, and the topology', async function () {
    const snapshot = await open().current();
    expect(snapshot.leader).to.equal('n1');
    expect(snapshot.nodes.map((n) => [n.name, n.leader, n.apps])).to.deep.equal([
      ['n1', true, 1],
      ['n2', false, 2],
    ]);
    expect(snapshot.nodes[0]?.labels).to.deep.equal({ HOST_NAME: 'n1', zone: 'east' });
    const web = snapshot.tasks.find((t) => t.name === 'web');
    expect(web).to.deep.include({
      replication: 3,
      scheduled: 2,
      running: 2,
      passing: 1,
      unschedulable: 1,
      port: 8080,
    });
    expect(web?.reasons).to.deep.equal(['1 replica: no third node']);
    expect(snapshot.topology).to.deep.equal({ n1: ['web'], n2: ['web'] });
  });

  it('shows a task whose value does not decode as invalid, naming the field', async function () {
    const bad = (await open().current()).tasks.find((t) => t.name === 'bad');
    expect(bad?.invalid).to.match(/replication/);
    expect(bad?.running).to.equal(0);
  });

  it('streams a change while subscribed', async function () {
    const current = open();
    const changed = firstValueFrom(
      current.snapshots.pipe(filter((s) => s.tasks.some((t) => t.name === 'late'))),
    );
    await consul.kv.put(`${prefix}/cluster/tasks/late`, {
      replication: 1,
      content: { name: 'late', command: 'sleep 1' },
    });
    const snapshot = await changed;
    expect(snapshot.tasks.find((t) => t.name === 'late')).to.deep.include({ replication: 1, scheduled: 0 });
  });

  it('keeps the watches for idleMs after a request, then lets them go', async function () {
    const current = open(200);
    await current.current();
    expect(current.leased).to.equal(true);
    await waitUntil('the lease ends', () => !current.leased, 5_000);
  });
});
