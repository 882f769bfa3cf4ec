// The typed Consul client against a real Consul agent: KV, CAS, sessions, locks and transactions.
import { expect } from 'chai';
import { firstValueFrom, filter, timeout } from 'rxjs';
import { Consul } from '../../src/consul/consul.js';
import {
  CasConflictError,
  ConsulUnavailableError,
  SessionExpiredError,
  TxnRollbackError,
} from '../../src/consul/errors.js';
import { watchKey } from '../../src/consul/watch.js';
import { freePort, type ConsulFixture } from '../fixtures/consul.js';
import { useConsul } from '../fixtures/consul-suite.js';

describe('consul client (real Consul)', function () {
  const suite = useConsul();
  let consul: Consul;
  let fixture: ConsulFixture;
  beforeEach(function () {
    ({ consul, fixture } = suite);
  });

  describe('kv', function () {
    it('round-trips values and lists a prefix in key order', async function () {
      await consul.kv.put('t/kv/b', { n: 2 });
      await consul.kv.put('t/kv/a', 'plain text');
      await consul.kv.put('t/kv/empty', '');
      const one = await consul.kv.get('t/kv/a');
      expect(one.value?.value).to.equal('plain text');
      expect(one.index).to.be.greaterThan(0);
      const all = await consul.kv.list('t/kv/');
      expect(all.value.map((e) => e.key)).to.deep.equal(['t/kv/a', 't/kv/b', 't/kv/empty']);
      expect(JSON.parse(all.value[1]?.value ?? 'null')).to.deep.equal({ n: 2 });
      expect(all.value[2]?.value).to.equal(null);
      expect(await consul.kv.keys('t/kv/')).to.deep.equal(['t/kv/a', 't/kv/b', 't/kv/empty']);
    });

    it('reports a missing key as undefined and an empty prefix as no entries', async function () {
      expect((await consul.kv.get('t/missing/key')).value).to.equal(undefined);
      expect((await consul.kv.list('t/missing/')).value).to.deep.equal([]);
      expect(await consul.kv.keys('t/missing/')).to.deep.equal([]);
    });

    it('encodes keys with spaces and unicode in the path', async function () {
      await consul.kv.put('t/odd/a b/ü', 'x');
      expect((await consul.kv.get('t/odd/a b/ü')).value?.value).to.equal('x');
    });

    it('cas=0 creates only when the key is absent', async function () {
      expect(await consul.kv.put('t/cas/new', 'first', { cas: 0 })).to.equal(true);
      const err = await consul.kv.put('t/cas/new', 'second', { cas: 0 }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(CasConflictError);
      expect((await consul.kv.get('t/cas/new')).value?.value).to.equal('first');
    });

    it('a stale cas index loses and reports a conflict, leaving the newer value', async function () {
      await consul.kv.put('t/cas/k', 'v1');
      const read = (await consul.kv.get('t/cas/k')).value;
      expect(read).to.not.equal(undefined);
      const stale = read?.modifyIndex ?? 0;
      expect(await consul.kv.put('t/cas/k', 'v2', { cas: stale })).to.equal(true);
      const err = await consul.kv.put('t/cas/k', 'v3', { cas: stale }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(CasConflictError);
      expect((err as CasConflictError).message).to.contain('t/cas/k');
      expect((await consul.kv.get('t/cas/k')).value?.value).to.equal('v2');
    });

    it('deletes with cas and recursively', async function () {
      await consul.kv.put('t/del/a', '1');
      await consul.kv.put('t/del/b', '2');
      const a = (await consul.kv.get('t/del/a')).value;
      const err = await consul.kv
        .delete('t/del/a', { cas: (a?.modifyIndex ?? 0) - 1 })
        .catch((e: unknown) => e);
      expect(err).to.be.instanceOf(CasConflictError);
      await consul.kv.delete('t/del/a', { cas: a?.modifyIndex ?? 0 });
      expect((await consul.kv.get('t/del/a')).value).to.equal(undefined);
      await consul.kv.delete('t/del/', { recurse: true });
      expect((await consul.kv.list('t/del/')).value).to.deep.equal([]);
    });
  });

  describe('sessions and locks', function () {
    const sessions: string[] = [];
    const newSession = async (name: string, ttlSeconds = 30) => {
      const id = await consul.session.create({ name, ttlSeconds, behavior: 'delete', lockDelaySeconds: 0 });
      sessions.push(id);
      return id;
    };
    after(async function () {
      for (const id of sessions) await consul.session.destroy(id);
    });

    it('creates a session with the TTL, behavior and lock delay it was asked for', async function () {
      const id = await newSession('appmesh-test-info', 15);
      const info = await consul.session.info(id);
      expect(info).to.include({ id, name: 'appmesh-test-info', behavior: 'delete', ttlSeconds: 15 });
      const renewed = await consul.session.renew(id);
      expect(renewed.ttlSeconds).to.equal(15);
      const onNode = await consul.session.listForNode(fixture.nodeName);
      expect(onNode.map((s) => s.id)).to.include(id);
    });

    it('lets one of two sessions acquire a key; release hands it to the other', async function () {
      const first = await newSession('appmesh-test-a');
      const second = await newSession('appmesh-test-b');
      expect(await consul.kv.put('t/lock', 'a', { acquire: first })).to.equal(true);
      expect(await consul.kv.put('t/lock', 'b', { acquire: second })).to.equal(false);
      expect((await consul.kv.get('t/lock')).value).to.include({ value: 'a', session: first });
      expect(await consul.kv.put('t/lock', 'a', { release: first })).to.equal(true);
      expect(await consul.kv.put('t/lock', 'b', { acquire: second })).to.equal(true);
      expect((await consul.kv.get('t/lock')).value).to.include({ value: 'b', session: second });
    });

    it('raises SessionExpired when renewing a destroyed session', async function () {
      const id = await newSession('appmesh-test-destroyed');
      await consul.session.destroy(id);
      const err = await consul.session.renew(id).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(SessionExpiredError);
      expect(await consul.session.info(id)).to.equal(undefined);
    });

    it('deletes the acquired key of a delete-behavior session whose TTL runs out', async function () {
      this.timeout(60_000);
      // Consul's smallest TTL is 10s and it may wait up to twice the TTL before invalidating.
      const id = await newSession('appmesh-test-expiring', 10);
      expect(await consul.kv.put('t/expiring', 'held', { acquire: id })).to.equal(true);
      const gone = firstValueFrom(
        watchKey(consul, 't/expiring', { waitSeconds: 10 }).snapshots.pipe(
          filter((entry) => entry === undefined),
          timeout(45_000),
        ),
      );
      expect(await gone).to.equal(undefined);
      expect(await consul.session.info(id)).to.equal(undefined);
    });
  });

  describe('transactions', function () {
    it('writes every op of a txn together', async function () {
      const results = await consul.txn.apply([
        { verb: 'set', key: 't/txn/a', value: { x: 1 } },
        { verb: 'set', key: 't/txn/b', value: 'two' },
      ]);
      expect(results.map((r) => r.key)).to.deep.equal(['t/txn/a', 't/txn/b']);
      expect((await consul.kv.get('t/txn/b')).value?.value).to.equal('two');
    });

    it('rolls back a txn whose check-session fails and writes nothing', async function () {
      const holder = await consul.session.create({
        name: 'appmesh-test-holder',
        ttlSeconds: 30,
        behavior: 'delete',
        lockDelaySeconds: 0,
      });
      const other = await consul.session.create({
        name: 'appmesh-test-other',
        ttlSeconds: 30,
        behavior: 'delete',
        lockDelaySeconds: 0,
      });
      try {
        expect(await consul.kv.put('t/txn/leader', 'holder', { acquire: holder })).to.equal(true);
        const err = await consul.txn
          .apply([
            { verb: 'check-session', key: 't/txn/leader', session: other },
            { verb: 'set', key: 't/txn/fenced', value: 'should not exist' },
          ])
          .catch((e: unknown) => e);
        expect(err).to.be.instanceOf(TxnRollbackError);
        expect((err as TxnRollbackError).failures[0]?.opIndex).to.equal(0);
        expect((err as TxnRollbackError).message).to.contain('check-session t/txn/leader');
        expect((await consul.kv.get('t/txn/fenced')).value).to.equal(undefined);

        await consul.txn.apply([
          { verb: 'check-session', key: 't/txn/leader', session: holder },
          { verb: 'set', key: 't/txn/fenced', value: 'written by the holder' },
        ]);
        expect((await consul.kv.get('t/txn/fenced')).value?.value).to.equal('written by the holder');
      } finally {
        await consul.session.destroy(holder);
        await consul.session.destroy(other);
      }
    });

    it('refuses more than 128 ops before sending anything', async function () {
      const ops = Array.from({ length: 129 }, (_, i) => ({
        verb: 'set' as const,
        key: `t/big/${i}`,
        value: 'x',
      }));
      const err = await consul.txn.apply(ops).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(RangeError);
      expect((await consul.kv.list('t/big/')).value).to.have.length(0);
    });
  });

  describe('failures', function () {
    it('names the address and a hint when nothing listens there', async function () {
      const port = await freePort();
      const dead = Consul.connect({ address: `127.0.0.1:${port}` });
      try {
        const err = await dead.kv.get('x').catch((e: unknown) => e);
        expect(err).to.be.instanceOf(ConsulUnavailableError);
        expect((err as Error).message)
          .to.contain(`http://127.0.0.1:${port}`)
          .and.contain('ECONNREFUSED');
      } finally {
        await dead.close();
      }
    });

    it('never puts the ACL token into an error message', async function () {
      const port = await freePort();
      const secret = 'e95b599e-166e-7d80-08ad-aee76e7ddf19';
      const dead = Consul.connect({ address: `127.0.0.1:${port}`, token: secret });
      try {
        const err = (await dead.kv.put('x', 'y').catch((e: unknown) => e)) as Error;
        expect(err.message).to.not.contain(secret);
        expect(String(err.stack)).to.not.contain(secret);
      } finally {
        await dead.close();
      }
    });
  });
});
