// TopologyApplier against a real Consul: this node's topology key and the task specs become the map of
// cluster-owned apps, a bad task value keeps the last valid spec, and a Consul outage changes nothing.
import { expect } from 'chai';
import type { Subscription } from 'rxjs';
import type { AppSpec } from '../../api/app.js';
import { exponentialBackoff } from '../../src/core/backoff.js';
import type { Consul } from '../../src/consul/consul.js';
import { silentLogger } from '../../src/runtime/logger.js';
import { TopologyApplier } from '../../controllers/topology-applier.js';
import { useConsul } from '../fixtures/consul-suite.js';
import { waitUntil } from '../fixtures/eventually.js';

describe('TopologyApplier (real Consul)', function () {
  this.timeout(60_000);
  // `server` mode keeps the KV across the restart test.
  const suite = useConsul({ mode: 'server' });
  let consul: Consul;
  let prefix: string;
  let testNumber = 0;
  let applier: TopologyApplier | undefined;
  let subscription: Subscription | undefined;
  /** Every map the applier emitted, in order. */
  let emitted: Array<ReadonlyMap<string, AppSpec>>;

  beforeEach(function () {
    ({ consul } = suite);
    testNumber += 1;
    prefix = `apply${testNumber}`;
    emitted = [];
  });
  afterEach(async function () {
    subscription?.unsubscribe();
    await applier?.stop();
    applier = undefined;
  });

  const latest = (): ReadonlyMap<string, AppSpec> => emitted[emitted.length - 1] ?? new Map();

  async function startApplier(node = 'n1'): Promise<void> {
    applier = new TopologyApplier({
      consul,
      prefix,
      node,
      logger: silentLogger(),
      watchOptions: { backoff: exponentialBackoff({ initialMs: 50, maxMs: 300 }), minIntervalMs: 10 },
    });
    subscription = applier.apps.subscribe((apps) => emitted.push(apps));
    await applier.start();
  }

  async function putTask(name: string, task: Record<string, unknown>): Promise<void> {
    await consul.kv.put(`${prefix}/cluster/tasks/${name}`, task);
  }

  async function place(node: string, apps: readonly string[]): Promise<void> {
    const placements = apps.map((app) => ({ app, schedule_time: '2026-01-01T00:00:00.000Z' }));
    await consul.kv.put(`${prefix}/cluster/topology/${node}`, placements);
  }

  it('starts as an empty map', async function () {
    await startApplier();
    expect(emitted).to.have.length(1);
    expect(latest().size).to.equal(0);
  });

  it('turns this node’s placements into apps with the cluster env and port', async function () {
    await putTask('web', {
      replication: 2,
      port: 8080,
      content: { command: 'serve', env: { MODE: 'prod' } },
    });
    await putTask('job', { replication: 1, content: { command: 'work', shell: true } });
    await putTask('elsewhere', { replication: 1, content: { command: 'x' } });
    await place('n1', ['web', 'job']);
    await place('n2', ['elsewhere']);
    await startApplier('n1');

    await waitUntil('two apps', () => latest().size === 2);
    expect(latest().get('web')).to.deep.equal({
      name: 'web',
      command: 'serve',
      port: 8080,
      env: { MODE: 'prod', APPMESH_NODE: 'n1', APPMESH_TASK: 'web', PORT: '8080' },
    });
    expect(latest().get('job')).to.deep.equal({
      name: 'job',
      command: 'work',
      shell: true,
      env: { APPMESH_NODE: 'n1', APPMESH_TASK: 'job' },
    });
  });

  it('hands over a changed task spec and drops a removed placement', async function () {
    await putTask('web', { replication: 1, content: { command: 'v1' } });
    await putTask('job', { replication: 1, content: { command: 'work' } });
    await place('n1', ['web', 'job']);
    await startApplier();
    await waitUntil('two apps', () => latest().size === 2);

    await putTask('web', { replication: 1, content: { command: 'v2' } });
    await waitUntil('the new spec', () => latest().get('web')?.command === 'v2');

    await place('n1', ['web']);
    await waitUntil('job gone', () => !latest().has('job'));
    expect([...latest().keys()]).to.deep.equal(['web']);
    // Only distinct maps are emitted: empty, both, v2, without job.
    expect(emitted).to.have.length(4);
  });

  it('keeps the last valid spec of a task whose value turns invalid, and skips one never valid', async function () {
    await putTask('web', { replication: 1, content: { command: 'v1' } });
    await putTask('bad', { replication: 1, content: { command: 42 } });
    await place('n1', ['web', 'bad']);
    await startApplier();
    await waitUntil('web', () => latest().has('web'));
    expect(latest().has('bad')).to.equal(false);
    const emissions = emitted.length;

    await putTask('web', { replication: 1, content: { command: '' } });
    await consul.kv.put(`${prefix}/cluster/tasks/other`, 'not json'); // a change the applier sees
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(latest().get('web')?.command).to.equal('v1');
    expect(emitted).to.have.length(emissions);

    await putTask('web', { replication: 1, content: { command: 'v3' } });
    await waitUntil('fixed spec', () => latest().get('web')?.command === 'v3');
  });

  it('keeps the map while Consul is down and follows changes after it is back', async function () {
    await putTask('web', { replication: 1, content: { command: 'v1' } });
    await place('n1', ['web']);
    await startApplier();
    await waitUntil('web', () => latest().has('web'));
    const emissions = emitted.length;

    await suite.fixture.restart({ downForMs: 1_500 });
    expect(emitted).to.have.length(emissions);
    expect(latest().get('web')?.command).to.equal('v1');

    await waitUntil('Consul writable again', async () => {
      try {
        await putTask('web', { replication: 1, content: { command: 'v2' } });
        return true;
      } catch {
        return false;
      }
    });
    await waitUntil('the change after the restart', () => latest().get('web')?.command === 'v2', 30_000);
    expect(emitted).to.have.length(emissions + 1);
  });
});
