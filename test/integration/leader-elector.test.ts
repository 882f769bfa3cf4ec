// LeaderElector against a real Consul agent: one leader among agents, fast failover when the leader's
// session ends, leadership dropped the moment the session goes, and deposed leaders fenced out of txns.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { Registry } from 'prom-client';
import { BehaviorSubject, type Subscription } from 'rxjs';
import { LeaderRecord } from '../../api/cluster.js';
import { decodeJson } from '../../api/decode.js';
import type { Consul } from '../../src/consul/consul.js';
import { TxnRollbackError } from '../../src/consul/errors.js';
import { silentLogger } from '../../src/runtime/logger.js';
import { RuntimeMetrics } from '../../src/runtime/runtime-metrics.js';
import { LeaderElector } from '../../controllers/leader-elector.js';
import { SessionManager } from '../../controllers/session-manager.js';
import { useConsul } from '../fixtures/consul-suite.js';
import { waitUntil } from '../fixtures/eventually.js';

interface Member {
  readonly node: string;
  readonly sessions: SessionManager;
  readonly elector: LeaderElector;
  /** The latest value of `elector.leadership`. */
  leading: boolean;
}

describe('LeaderElector (real Consul)', function () {
  this.timeout(60_000);
  const suite = useConsul();
  let consul: Consul;
  let prefix: string;
  let testNumber = 0;
  const members: Member[] = [];
  const subscriptions: Subscription[] = [];
  const dirs: string[] = [];
  const sessionsToDestroy: string[] = [];

  beforeEach(function () {
    ({ consul } = suite);
    // A prefix per test, so each election starts from a free key.
    testNumber += 1;
    prefix = `t${testNumber}`;
  });
  afterEach(async function () {
    for (const subscription of subscriptions.splice(0)) subscription.unsubscribe();
    for (const member of members.splice(0)) {
      await member.elector.stop();
      await member.sessions.stop();
    }
    for (const id of sessionsToDestroy.splice(0)) await consul.session.destroy(id);
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  async function member(node: string, metrics?: RuntimeMetrics): Promise<Member> {
    const dataDir = await mkdtemp(join(tmpdir(), 'appmesh-elector-'));
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
    const elector = new LeaderElector({
      consul,
      prefix,
      node,
      sessions: sessions.sessions,
      logger: silentLogger(),
      ...(metrics ? { metrics } : {}),
    });
    const created: Member = { node, sessions, elector, leading: false };
    subscriptions.push(elector.leadership.subscribe((leading) => (created.leading = leading)));
    members.push(created);
    await sessions.start();
    await elector.start();
    return created;
  }

  const leaders = () => members.filter((m) => m.leading);

  it('elects exactly one of two agents and records it in the leader key', async function () {
    const registry = new Registry();
    const metricsA = new RuntimeMetrics(registry);
    const a = await member('node-a', metricsA);
    const b = await member('node-b');
    await waitUntil('a leader', () => leaders().length > 0);
    await new Promise((resolve) => setTimeout(resolve, 500)); // time for a second (wrong) winner to show
    expect(leaders()).to.have.length(1);
    const [leader] = leaders();
    const follower = leader === a ? b : a;

    const entry = (await consul.kv.get(`${prefix}/cluster/leader`)).value;
    expect(entry?.session).to.equal(leader?.sessions.current);
    const record = decodeJson(LeaderRecord, entry?.value ?? '', 'leader key');
    expect(record._tag).to.equal('Right');
    expect(JSON.parse(entry?.value ?? '{}')).to.include({ node: leader?.node });
    expect(leader?.elector.leaderSession()).to.equal(leader?.sessions.current);
    expect(follower.elector.leaderSession()).to.equal(undefined);
    expect(leader?.elector.leaderKey).to.equal(`${prefix}/cluster/leader`);
    expect((await registry.getSingleMetric('appmesh_leader')?.get())?.values[0]?.value).to.equal(
      leader === a ? 1 : 0,
    );
  });

  it('hands leadership to the other agent within a couple of seconds when the leader stops', async function () {
    await member('node-a');
    await member('node-b');
    await waitUntil('a leader', () => leaders().length === 1);
    const [leader] = leaders();
    const follower = members.find((m) => m !== leader);

    const stopped = Date.now();
    await leader?.elector.stop();
    await leader?.sessions.stop();
    await waitUntil('the other agent to lead', () => follower?.leading === true, 5_000);
    expect(Date.now() - stopped).to.be.lessThan(2_000);
    expect(leaders()).to.deep.equal([follower]);
  });

  it('hands leadership over when the leader session is destroyed behind its back', async function () {
    await member('node-a');
    await member('node-b');
    await waitUntil('a leader', () => leaders().length === 1);
    const [leader] = leaders();
    const follower = members.find((m) => m !== leader);
    const deposedSession = leader?.elector.leaderSession() ?? '';

    const destroyed = Date.now();
    await consul.session.destroy(deposedSession);
    // The deposed leader learns from the key before its own renew notices the loss.
    await waitUntil('the deposed leader to step down', () => leader?.leading === false, 2_000);
    await waitUntil('the other agent to lead', () => follower?.leading === true, 5_000);
    expect(Date.now() - destroyed).to.be.lessThan(2_000);
    expect(leaders()).to.deep.equal([follower]);
  });

  it('drops leadership in the same turn the session stream says the session is gone', async function () {
    const first = await consul.session.create({
      name: 't-elector',
      ttlSeconds: 30,
      behavior: 'delete',
      lockDelaySeconds: 0,
    });
    const second = await consul.session.create({
      name: 't-elector',
      ttlSeconds: 30,
      behavior: 'delete',
      lockDelaySeconds: 0,
    });
    sessionsToDestroy.push(first, second);
    const sessions = new BehaviorSubject<string | undefined>(first);
    const elector = new LeaderElector({ consul, prefix, node: 'node-a', sessions, logger: silentLogger() });
    const seen: boolean[] = [];
    subscriptions.push(elector.leadership.subscribe((leading) => seen.push(leading)));
    try {
      await elector.start();
      await waitUntil('leadership', () => seen.at(-1) === true);
      expect(elector.leaderSession()).to.equal(first);

      sessions.next(undefined);
      expect(seen.at(-1)).to.equal(false); // no await in between: synchronous
      expect(elector.leaderSession()).to.equal(undefined);

      // A different session is not leadership either, even though the key is still held by the first.
      sessions.next(first);
      await waitUntil('leadership again', () => seen.at(-1) === true);
      sessions.next(second);
      expect(seen.at(-1)).to.equal(false);
      expect(seen).to.deep.equal([false, true, false, true, false]);
    } finally {
      await elector.stop();
    }
  });

  it('releases the leader key on stop so another agent takes over at once', async function () {
    await member('node-a');
    await member('node-b');
    await waitUntil('a leader', () => leaders().length === 1);
    const [leader] = leaders();
    const follower = members.find((m) => m !== leader);

    await leader?.elector.stop(); // the session stays: only the release frees the key
    expect(leader?.sessions.current).to.be.a('string');
    await waitUntil('the other agent to lead', () => follower?.leading === true, 2_000);
    expect((await consul.kv.get(`${prefix}/cluster/leader`)).value?.session).to.equal(
      follower?.sessions.current,
    );
  });

  it("rejects a fenced txn under the deposed leader's session", async function () {
    await member('node-a');
    await member('node-b');
    await waitUntil('a leader', () => leaders().length === 1);
    const [leader] = leaders();
    const follower = members.find((m) => m !== leader);
    const deposedSession = leader?.elector.leaderSession() ?? '';
    const leaderKey = `${prefix}/cluster/leader`;

    await consul.session.destroy(deposedSession);
    await waitUntil('the other agent to lead', () => follower?.leading === true, 5_000);

    const err = await consul.txn
      .apply([
        { verb: 'check-session', key: leaderKey, session: deposedSession },
        { verb: 'set', key: `${prefix}/cluster/topology/node-a`, value: [] },
      ])
      .catch((e: unknown) => e);
    expect(err).to.be.instanceOf(TxnRollbackError);
    expect((await consul.kv.get(`${prefix}/cluster/topology/node-a`)).value).to.equal(undefined);

    await consul.txn.apply([
      { verb: 'check-session', key: leaderKey, session: follower?.elector.leaderSession() ?? '' },
      { verb: 'set', key: `${prefix}/cluster/topology/node-a`, value: [] },
    ]);
    expect((await consul.kv.get(`${prefix}/cluster/topology/node-a`)).value?.value).to.equal('[]');
  });
});
