// Scheduler against a real Consul: node reports and the leader key are written by the test itself (with
// sessions of its own), so placement, status, idempotence and fencing are checked without agent processes.
import { expect } from 'chai';
import { Registry } from 'prom-client';
import type { KvEntry } from '../../api/consul.js';
import { exponentialBackoff } from '../../src/core/backoff.js';
import type { Consul } from '../../src/consul/consul.js';
import type { Controller } from '../../src/runtime/controller.js';
import { silentLogger } from '../../src/runtime/logger.js';
import { RuntimeMetrics } from '../../src/runtime/runtime-metrics.js';
import { createScheduler } from '../../controllers/scheduler/scheduler.js';
import type { TaskStatusRecord } from '../../controllers/scheduler/task-status.js';
import { useConsul } from '../fixtures/consul-suite.js';
import { eventually, waitUntil } from '../fixtures/eventually.js';

const MB = 1024 * 1024;

interface NodeOptions {
  readonly labels?: Record<string, string>;
  readonly memMB?: number;
  readonly worker?: boolean;
}

describe('Scheduler (real Consul)', function () {
  this.timeout(60_000);
  const suite = useConsul();
  let consul: Consul;
  let prefix: string;
  let testNumber = 0;
  let registry: Registry;
  let scheduler: Controller<string> | undefined;
  let leaderSession: string | undefined;
  const sessions: string[] = [];

  beforeEach(function () {
    ({ consul } = suite);
    testNumber += 1;
    prefix = `sched${testNumber}`;
    registry = new Registry();
  });
  afterEach(async function () {
    await scheduler?.stop();
    scheduler = undefined;
    for (const id of sessions.splice(0)) await consul.session.destroy(id);
  });

  async function newSession(name: string): Promise<string> {
    const id = await consul.session.create({ name, ttlSeconds: 30, behavior: 'delete', lockDelaySeconds: 0 });
    sessions.push(id);
    return id;
  }

  /** Takes the leader key with a fresh session and starts the scheduler fenced by `fence` (default: that session). */
  async function startScheduler(fence?: string): Promise<Controller<string>> {
    const holder = await newSession('leader');
    expect(
      await consul.kv.put(`${prefix}/cluster/leader`, { node: 'leader', since: 'now' }, { acquire: holder }),
    ).to.equal(true);
    leaderSession = fence ?? holder;
    scheduler = createScheduler({
      consul,
      prefix,
      leaderSession: () => leaderSession,
      metrics: new RuntimeMetrics(registry),
      registry,
      logger: silentLogger(),
      watchOptions: { backoff: exponentialBackoff({ initialMs: 20, maxMs: 200 }), minIntervalMs: 10 },
    });
    scheduler.start();
    return scheduler;
  }

  async function addNode(name: string, options: NodeOptions = {}): Promise<string> {
    const session = await newSession(`node ${name}`);
    const report = {
      appmesh: `http://${name}:6060`,
      label: { HOST_NAME: name, arch: 'x86_64', os_version: 'test', ...options.labels },
      leader: false,
      resource: { cpu_cores: 2, mem_total_bytes: (options.memMB ?? 4096) * MB, mem_free_bytes: 0 },
      apps: {},
      version: '0.1.0',
      ...(options.worker === undefined ? {} : { worker: options.worker }),
    };
    expect(await consul.kv.put(`${prefix}/cluster/nodes/${name}`, report, { acquire: session })).to.equal(
      true,
    );
    return session;
  }

  async function putTask(name: string, task: Record<string, unknown>): Promise<void> {
    await consul.kv.put(`${prefix}/cluster/tasks/${name}`, { content: { command: 'sleep 60' }, ...task });
  }

  /** Node -> apps placed on it, for every topology key. */
  async function topology(): Promise<Map<string, string[]>> {
    const entries = (await consul.kv.list(`${prefix}/cluster/topology/`)).value;
    return new Map(
      entries.map((entry) => [
        entry.key.slice(`${prefix}/cluster/topology/`.length),
        (JSON.parse(entry.value ?? '[]') as Array<{ app: string }>).map((placement) => placement.app),
      ]),
    );
  }

  async function nodesOf(task: string): Promise<string[]> {
    return [...(await topology())]
      .filter(([, apps]) => apps.includes(task))
      .map(([node]) => node)
      .sort();
  }

  async function status(task: string): Promise<TaskStatusRecord | undefined> {
    const entry = (await consul.kv.get(`${prefix}/cluster/status/${task}`)).value;
    return entry?.value ? (JSON.parse(entry.value) as TaskStatusRecord) : undefined;
  }

  async function gauge(task: string): Promise<number | undefined> {
    const metric = registry.getSingleMetric('appmesh_scheduler_unschedulable_replicas');
    const values = (await metric?.get())?.values ?? [];
    return values.find((value) => value.labels['task'] === task)?.value;
  }

  async function successfulReconciles(): Promise<number> {
    const values = (await registry.getSingleMetric('appmesh_reconcile_total')?.get())?.values ?? [];
    return (
      values.find((v) => v.labels['controller'] === 'scheduler' && v.labels['result'] === 'success')?.value ??
      0
    );
  }

  /** Every written key under cluster/ with its ModifyIndex. */
  async function writtenIndexes(): Promise<Map<string, number>> {
    const entries: KvEntry[] = [
      ...(await consul.kv.list(`${prefix}/cluster/topology/`)).value,
      ...(await consul.kv.list(`${prefix}/cluster/status/`)).value,
    ];
    return new Map(entries.map((entry) => [entry.key, entry.modifyIndex]));
  }

  it('runs a task on the matching worker nodes only and reports its status', async function () {
    await addNode('n1');
    await addNode('n2', { labels: { arch: 'arm64' } });
    await addNode('n3');
    await addNode('n4', { worker: false });
    await putTask('web', { replication: 3, condition: { arch: 'x86_64' } });
    await startScheduler();

    await waitUntil('web placed', async () => (await status('web'))?.scheduled === 2);
    expect(await nodesOf('web')).to.deep.equal(['n1', 'n3']);
    const written = await status('web');
    expect(written).to.include({ desired: 3, scheduled: 2, unschedulable: 1 });
    expect(written?.nodes).to.deep.equal(['n1', 'n3']);
    expect(written?.reasons[0]).to.contain('1 replica unschedulable');
    const placements = JSON.parse(
      (await consul.kv.get(`${prefix}/cluster/topology/n1`)).value?.value ?? '[]',
    ) as unknown[];
    expect(placements).to.have.length(1);
    expect(placements[0]).to.have.keys('app', 'schedule_time');
    expect(await gauge('web')).to.equal(1);
  });

  it('scales a task up and down', async function () {
    for (const node of ['n1', 'n2', 'n3']) await addNode(node);
    await putTask('web', { replication: 1 });
    await startScheduler();
    await waitUntil('one replica', async () => (await nodesOf('web')).length === 1);
    const [first] = await nodesOf('web');

    await putTask('web', { replication: 3 });
    await waitUntil('three replicas', async () => (await nodesOf('web')).length === 3);
    expect(await nodesOf('web')).to.include(first); // sticky: the first replica did not move
    expect((await status('web'))?.scheduled).to.equal(3);

    await putTask('web', { replication: 2 });
    await waitUntil('two replicas', async () => (await nodesOf('web')).length === 2);
    await putTask('web', { replication: 0 });
    await waitUntil('no replicas', async () => (await nodesOf('web')).length === 0);
    expect(await status('web')).to.deep.equal({
      desired: 0,
      scheduled: 0,
      nodes: [],
      unschedulable: 0,
      reasons: [],
    });
  });

  it('selects nodes by glob and by regular expression', async function () {
    await addNode('web-1');
    await addNode('web-2');
    await addNode('db-1');
    await putTask('front', { replication: 3, condition: { HOST_NAME: 'web-*' } });
    await putTask('store', { replication: 3, condition: { HOST_NAME: '/^db-\\d+$/' } });
    await startScheduler();
    await waitUntil(
      'both placed',
      async () => (await status('front'))?.scheduled === 2 && (await status('store'))?.scheduled === 1,
    );
    expect(await nodesOf('front')).to.deep.equal(['web-1', 'web-2']);
    expect(await nodesOf('store')).to.deep.equal(['db-1']);
  });

  it('reports a task needing more memory than any node has as unschedulable', async function () {
    await addNode('n1', { memMB: 1024 });
    await addNode('n2', { memMB: 2048 });
    await putTask('big', { replication: 1, memoryMB: 4096 });
    await startScheduler();
    const written = await eventually('a status', () => status('big'));
    expect(written).to.include({ desired: 1, scheduled: 0, unschedulable: 1 });
    expect(written.reasons.join('\n')).to.contain('lack memory (needs 4096 MB, at most 2048 MB free)');
    expect(await nodesOf('big')).to.deep.equal([]);
    expect(await gauge('big')).to.equal(1);
  });

  it('never puts two tasks with the same port on one node', async function () {
    for (const node of ['n1', 'n2', 'n3']) await addNode(node);
    await putTask('a', { replication: 2, port: 8080 });
    await putTask('b', { replication: 2, port: 8080 });
    await startScheduler();
    await waitUntil(
      'both reported',
      async () => (await status('a')) !== undefined && (await status('b')) !== undefined,
    );
    const a = await nodesOf('a');
    const b = await nodesOf('b');
    expect(a).to.have.length(2);
    expect(b).to.have.length(1);
    expect(a.filter((node) => b.includes(node))).to.deep.equal([]);
    const written = await status('b');
    expect(written?.unschedulable).to.equal(1);
    expect(written?.reasons.join('\n')).to.contain('port 8080 in use');
  });

  it('removes a deleted task from every node and deletes its status and metric', async function () {
    for (const node of ['n1', 'n2']) await addNode(node);
    await putTask('web', { replication: 2 });
    await putTask('keep', { replication: 1 });
    await startScheduler();
    await waitUntil(
      'placed',
      async () => (await nodesOf('web')).length === 2 && (await nodesOf('keep')).length === 1,
    );

    await consul.kv.delete(`${prefix}/cluster/tasks/web`);
    await waitUntil(
      'web gone',
      async () => (await nodesOf('web')).length === 0 && (await status('web')) === undefined,
    );
    expect(await nodesOf('keep')).to.have.length(1);
    expect(await gauge('web')).to.equal(undefined);
    expect(await gauge('keep')).to.equal(0);
  });

  it('moves replicas off a node whose session ended and deletes its topology key', async function () {
    const sessionOf = new Map([
      ['n1', await addNode('n1')],
      ['n2', await addNode('n2')],
    ]);
    await putTask('web', { replication: 1 });
    await startScheduler();
    await waitUntil('placed', async () => (await nodesOf('web')).length === 1);
    const [before] = await nodesOf('web');
    const other = before === 'n1' ? 'n2' : 'n1';

    await consul.session.destroy(sessionOf.get(before ?? '') ?? '');
    await waitUntil('moved', async () => (await nodesOf('web')).join() === other);
    expect([...(await topology()).keys()]).to.deep.equal([other]);
  });

  it('keeps the placements of a task whose value turned invalid and still schedules the others', async function () {
    for (const node of ['n1', 'n2']) await addNode(node);
    await putTask('web', { replication: 1, memoryMB: 3000 });
    await startScheduler();
    await waitUntil('placed', async () => (await nodesOf('web')).length === 1);
    const placedOn = await nodesOf('web');
    const placedAt = (await consul.kv.get(`${prefix}/cluster/topology/${placedOn[0] ?? ''}`)).value?.value;

    await putTask('web', { replication: 'two' });
    const frozen = await eventually('invalid status', async () => {
      const written = await status('web');
      return written?.invalid !== undefined ? written : undefined;
    });
    expect(frozen.invalid).to.contain(
      `${prefix}/cluster/tasks/web: replication: expected NonNegativeInt, got "two"`,
    );
    expect(frozen).to.include({ desired: 1, scheduled: 1 });

    // The frozen replica still reserves its 3000 MB, so the new task goes to the other node.
    await putTask('api', { replication: 2, memoryMB: 2000 });
    await waitUntil('api placed', async () => (await status('api'))?.scheduled === 1);
    expect(await nodesOf('api')).to.not.include(placedOn[0]);
    expect(await nodesOf('web')).to.deep.equal(placedOn);
    const onWebNode = JSON.parse(
      (await consul.kv.get(`${prefix}/cluster/topology/${placedOn[0] ?? ''}`)).value?.value ?? '[]',
    ) as unknown;
    expect(onWebNode).to.deep.equal(JSON.parse(placedAt ?? '[]'));

    await putTask('web', { replication: 2 });
    await waitUntil('web valid again', async () => {
      const written = await status('web');
      return written !== undefined && written.invalid === undefined && written.scheduled === 2;
    });
  });

  it('writes nothing on a second pass over unchanged inputs', async function () {
    for (const node of ['n1', 'n2', 'n3']) await addNode(node);
    await putTask('web', { replication: 2, port: 80 });
    await putTask('api', { replication: 5 });
    const controller = await startScheduler();
    await waitUntil(
      'placed',
      async () => (await status('web'))?.scheduled === 2 && (await status('api'))?.scheduled === 3,
    );
    await new Promise((resolve) => setTimeout(resolve, 300)); // let the watches deliver our own writes
    const before = await writtenIndexes();
    const reconciles = await successfulReconciles();

    controller.enqueue('cluster');
    await waitUntil('another reconcile', async () => (await successfulReconciles()) > reconciles);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await writtenIndexes()).to.deep.equal(before);
  });

  it('is fenced: with the leader key held by another session nothing is written', async function () {
    await addNode('n1');
    await putTask('web', { replication: 1 });
    const stale = await newSession('deposed leader');
    const controller = await startScheduler(stale);
    const reconciles = await successfulReconciles();
    controller.enqueue('cluster');
    await waitUntil('a reconcile', async () => (await successfulReconciles()) > reconciles);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await writtenIndexes()).to.deep.equal(new Map());

    // Once the fence names the session that holds the key, the same scheduler writes.
    const holder = (await consul.kv.get(`${prefix}/cluster/leader`)).value?.session;
    leaderSession = holder;
    controller.enqueue('cluster');
    await waitUntil('placed', async () => (await nodesOf('web')).length === 1);
  });
});
