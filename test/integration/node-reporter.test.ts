// NodeReporter against a real Consul agent: the node key held by the agent's session with the report,
// written only on change, repaired when deleted, never stolen from a second agent with the same name,
// and gone the moment the session is.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { isRight } from 'fp-ts/lib/Either.js';
import { BehaviorSubject, Subject, type Subscription } from 'rxjs';
import { NodeReport } from '../../api/cluster.js';
import { decodeJson } from '../../api/decode.js';
import { Registry } from 'prom-client';
import { Consul } from '../../src/consul/consul.js';
import { ConsulMetrics } from '../../src/consul/metrics.js';
import { silentLogger } from '../../src/runtime/logger.js';
import { NodeReporter, type NodeReporterState } from '../../controllers/node-reporter.js';
import { SessionManager } from '../../controllers/session-manager.js';
import { useConsul } from '../fixtures/consul-suite.js';
import { waitUntil } from '../fixtures/eventually.js';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Agent {
  readonly sessions: SessionManager;
  readonly reporter: NodeReporter;
  readonly leadership: BehaviorSubject<boolean>;
  readonly changes: Subject<void>;
  report: Omit<NodeReport, 'leader'>;
  state: NodeReporterState;
}

function baseReport(node: string): Omit<NodeReport, 'leader'> {
  return {
    appmesh: `https://${node}:6060`,
    label: { HOST_NAME: node, arch: 'x86_64', os_version: 'ubuntu22.04' },
    resource: { cpu_cores: 4, mem_total_bytes: 8 * 1024 ** 3, mem_free_bytes: 4 * 1024 ** 3 },
    apps: { web: { status: 'running' } },
    version: '0.1.0',
  };
}

describe('NodeReporter (real Consul)', function () {
  this.timeout(60_000);
  const suite = useConsul();
  let consul: Consul;
  let prefix: string;
  let testNumber = 0;
  const agents: Agent[] = [];
  const subscriptions: Subscription[] = [];
  const dirs: string[] = [];

  beforeEach(function () {
    ({ consul } = suite);
    testNumber += 1;
    prefix = `t${testNumber}`;
  });
  afterEach(async function () {
    for (const subscription of subscriptions.splice(0)) subscription.unsubscribe();
    for (const agent of agents.splice(0)) {
      await agent.reporter.stop();
      await agent.sessions.stop();
    }
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  async function agent(
    node = 'node-a',
    options: { heartbeatMs?: number; consul?: Consul } = {},
  ): Promise<Agent> {
    const dataDir = await mkdtemp(join(tmpdir(), 'appmesh-reporter-'));
    dirs.push(dataDir);
    const sessions = new SessionManager({
      consul,
      node,
      prefix,
      ttlSeconds: 10,
      lockDelaySeconds: 0,
      dataDir,
      logger: silentLogger(),
    });
    const leadership = new BehaviorSubject(false);
    const changes = new Subject<void>();
    const created: Agent = {
      sessions,
      leadership,
      changes,
      report: baseReport(node),
      state: 'waiting',
      reporter: new NodeReporter({
        consul,
        prefix,
        node,
        sessions: sessions.sessions,
        leadership,
        changes,
        report: () => created.report,
        logger: silentLogger(),
        ...options,
      }),
    };
    subscriptions.push(created.reporter.state.subscribe((state) => (created.state = state)));
    agents.push(created);
    await sessions.start();
    await created.reporter.start();
    return created;
  }

  const nodeKey = (node = 'node-a') => `${prefix}/cluster/nodes/${node}`;
  const read = async (node = 'node-a') => (await consul.kv.get(nodeKey(node))).value;

  it('writes the node key, held by the session, with the report and the leader flag', async function () {
    const a = await agent();
    await waitUntil('state ok', () => a.state === 'ok');
    const entry = await read();
    expect(entry?.session).to.equal(a.sessions.current);
    const decoded = decodeJson(NodeReport, entry?.value ?? '', nodeKey());
    expect(isRight(decoded)).to.equal(true);
    expect(JSON.parse(entry?.value ?? '{}')).to.deep.equal({ ...baseReport('node-a'), leader: false });
    expect(a.reporter.nodeKey).to.equal(nodeKey());
  });

  it('does not write again while nothing changed', async function () {
    const a = await agent();
    await waitUntil('state ok', () => a.state === 'ok');
    const before = (await read())?.modifyIndex;

    a.changes.next();
    a.report = baseReport('node-a'); // equal content, new object
    a.changes.next();
    a.leadership.next(false);
    await pause(500);

    expect((await read())?.modifyIndex).to.equal(before);
    expect(a.state).to.equal('ok');
  });

  it('with a heartbeat, rewrites the unchanged report at least that often', async function () {
    // Consul keeps the ModifyIndex of an identical write, so count the reporter's PUTs instead.
    const registry = new Registry();
    const counted = Consul.connect(
      { address: suite.fixture.address },
      { metrics: new ConsulMetrics(registry) },
    );
    const puts = async () =>
      (await registry.getSingleMetricAsString('appmesh_consul_requests_total'))
        .split('\n')
        .filter((line) => line.includes('method="PUT"'))
        .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
    try {
      const a = await agent('node-a', { heartbeatMs: 300, consul: counted });
      await waitUntil('state ok', () => a.state === 'ok');
      const before = await puts();
      const started = Date.now();
      await waitUntil('two heartbeat writes', async () => (await puts()) >= before + 2);
      expect(Date.now() - started).to.be.greaterThan(250); // spaced by the heartbeat, not a burst
      const entry = await read();
      expect(entry?.session).to.equal(a.sessions.current);
      expect(JSON.parse(entry?.value ?? '{}')).to.deep.equal({ ...baseReport('node-a'), leader: false });
      expect(a.state).to.equal('ok');
    } finally {
      // Stopped here rather than in afterEach: the counted client must outlive the reporter.
      for (const agent of agents.splice(0)) {
        await agent.reporter.stop();
        await agent.sessions.stop();
      }
      await counted.close();
    }
  });

  it('rewrites the key when the report or the leadership changes', async function () {
    const a = await agent();
    await waitUntil('state ok', () => a.state === 'ok');

    a.report = { ...a.report, apps: { web: { status: 'stopped' } } };
    a.changes.next();
    await waitUntil(
      'the new report in consul',
      async () => (await read())?.value?.includes('"stopped"') === true,
    );

    a.leadership.next(true);
    await waitUntil('the leader flag in consul', async () => {
      const value = (await read())?.value;
      return value !== null && value !== undefined && (JSON.parse(value) as NodeReport).leader;
    });
    expect(JSON.parse((await read())?.value ?? '{}')).to.deep.equal({
      ...baseReport('node-a'),
      apps: { web: { status: 'stopped' } },
      leader: true,
    });
    await waitUntil('state ok', () => a.state === 'ok');
  });

  it('writes the key again when someone deletes it', async function () {
    const a = await agent();
    await waitUntil('state ok', () => a.state === 'ok');

    await consul.kv.delete(nodeKey());
    await waitUntil('the key back', async () => (await read())?.session === a.sessions.current, 5_000);
    expect(JSON.parse((await read())?.value ?? '{}')).to.include({ version: '0.1.0' });
  });

  it('reports a conflict and does not steal the key from another agent with the same name', async function () {
    const a = await agent();
    await waitUntil('first agent ok', () => a.state === 'ok');
    const held = await read();

    const b = await agent();
    b.report = { ...b.report, appmesh: 'https://impostor:6060' };
    await waitUntil('conflict on the second agent', () => b.state === 'conflict', 5_000);
    await pause(500);
    const after = await read();
    expect(after?.session).to.equal(a.sessions.current);
    expect(after?.modifyIndex).to.equal(held?.modifyIndex);
    expect(a.state).to.equal('ok');

    // Once the first agent is gone, the key is free and the second one reports.
    await a.reporter.stop();
    await a.sessions.stop();
    await waitUntil('second agent ok', () => b.state === 'ok', 5_000);
    expect((await read())?.session).to.equal(b.sessions.current);
    expect((await read())?.value).to.contain('impostor');
  });

  it('loses the key with the session, then reports again under the new session', async function () {
    const a = await agent();
    await waitUntil('state ok', () => a.state === 'ok');
    const first = a.sessions.current ?? '';

    await consul.session.destroy(first);
    // Behavior delete: the key goes with the session, before the manager even notices.
    await waitUntil('the key gone', async () => (await read()) === undefined, 3_000);

    await waitUntil(
      'a new session',
      () => a.sessions.current !== undefined && a.sessions.current !== first,
      10_000,
    );
    await waitUntil(
      'the key held by the new session',
      async () => (await read())?.session === a.sessions.current,
    );
    await waitUntil('state ok', () => a.state === 'ok');
  });
});
