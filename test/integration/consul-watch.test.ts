// Watch streams against a real Consul agent: prompt delivery, no duplicate snapshots, recovery
// after the agent restarts, and a clean end on unsubscribe.
import { expect } from 'chai';
import { firstValueFrom, type Observable, type Subscription, timeout } from 'rxjs';
import type { KvEntry } from '../../api/consul.js';
import { Consul } from '../../src/consul/consul.js';
import { watchHealthService, watchKey, watchPrefix, type WatchStatus } from '../../src/consul/watch.js';
import { exponentialBackoff } from '../../src/core/backoff.js';
import { startConsul, type ConsulFixture } from '../fixtures/consul.js';
import { useConsul } from '../fixtures/consul-suite.js';

/** Collects every emission so tests can wait for and count them. */
class Recorder<T> {
  readonly values: T[] = [];
  readonly #subscription: Subscription;
  constructor(source: Observable<T>) {
    this.#subscription = source.subscribe((v) => this.values.push(v));
  }
  async waitFor(predicate: (v: T) => boolean, ms = 10_000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const at = this.values.findIndex(predicate);
      if (at >= 0) return this.values[at] as T;
      if (Date.now() > deadline)
        throw new Error(`no matching value within ${ms} ms; saw ${JSON.stringify(this.values)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  stop() {
    this.#subscription.unsubscribe();
  }
}

const fastRetry = {
  backoff: exponentialBackoff({ initialMs: 50, maxMs: 500 }),
  waitSeconds: 30,
  onRetry: (e: unknown) => process.env['DEBUG_WATCH'] && console.log('retry', (e as Error).message),
};

describe('consul watches (real Consul)', function () {
  const suite = useConsul();
  let consul: Consul;
  let fixture: ConsulFixture;
  beforeEach(function () {
    ({ consul, fixture } = suite);
  });

  it('emits a put to a watched key within a fraction of a second', async function () {
    const watch = watchKey(consul, 'w/one', fastRetry);
    const seen = new Recorder(watch.snapshots);
    try {
      await seen.waitFor((v) => v === undefined);
      const started = performance.now();
      await consul.kv.put('w/one', 'hello');
      const entry = await seen.waitFor((v) => v?.value === 'hello');
      const latencyMs = performance.now() - started;
      expect(entry?.key).to.equal('w/one');
      // A generous bound against hangs; the benchmark measures the real latency.
      expect(latencyMs).to.be.lessThan(2_000);
    } finally {
      seen.stop();
    }
  });

  it('does not re-emit identical snapshots', async function () {
    await consul.kv.put('w/same/a', 'x');
    const watch = watchPrefix(consul, 'w/same/', fastRetry);
    const seen = new Recorder(watch.snapshots);
    try {
      await seen.waitFor((m) => m.get('w/same/a')?.value === 'x');
      // An unrelated key moves Consul's index, which wakes prefix watches elsewhere; and a rewrite of
      // the same value wakes this one with an unchanged snapshot apart from the index.
      await consul.kv.put('w/elsewhere', 'y');
      await consul.kv.put('w/same/b', 'z');
      await seen.waitFor((m) => m.has('w/same/b'));
      const count = seen.values.length;
      await consul.kv.put('w/elsewhere', 'y2');
      await consul.kv.put('w/same/c', 'c');
      await seen.waitFor((m) => m.has('w/same/c'));
      expect(seen.values.length).to.equal(count + 1);
      expect(seen.values.map((m) => [...m.keys()])).to.deep.equal([
        ['w/same/a'],
        ['w/same/a', 'w/same/b'],
        ['w/same/a', 'w/same/b', 'w/same/c'],
      ]);
    } finally {
      seen.stop();
    }
  });

  it('shares one request loop between subscribers and replays the latest snapshot', async function () {
    await consul.kv.put('w/shared', 'v');
    const watch = watchKey(consul, 'w/shared', fastRetry);
    const first = new Recorder(watch.snapshots);
    try {
      await first.waitFor((v) => v?.value === 'v');
      const late = await firstValueFrom(watch.snapshots.pipe(timeout(1_000)));
      expect(late?.value).to.equal('v');
    } finally {
      first.stop();
    }
  });

  it('watches the health of a service', async function () {
    const watch = watchHealthService(consul, 'watched', { ...fastRetry, passing: true });
    const seen = new Recorder(watch.snapshots);
    try {
      await seen.waitFor((v) => v.length === 0);
      await consul.agent.registerService({
        id: 'watched-1',
        name: 'watched',
        checks: [{ id: 'watched-1-ttl', name: 'ttl', ttl: '30s' }],
      });
      await consul.agent.updateTtlCheck('watched-1-ttl', 'pass');
      const healthy = await seen.waitFor((v) => v.length === 1);
      expect(healthy[0]?.Service.ID).to.equal('watched-1');
      await consul.agent.updateTtlCheck('watched-1-ttl', 'fail');
      await seen.waitFor((v) => v.length === 0 && seen.values.indexOf(v) > seen.values.indexOf(healthy));
    } finally {
      seen.stop();
      await consul.agent.deregisterService('watched-1');
    }
  });

  it('resumes after a Consul server restarts, reporting retrying and then connected', async function () {
    this.timeout(120_000);
    const server = await startConsul({ mode: 'server' }); // persistent data: indexes survive the restart
    const client = Consul.connect({ address: server.address });
    const watch = watchKey(client, 'w/restart', fastRetry);
    const statuses = new Recorder<WatchStatus>(watch.status);
    const seen = new Recorder<KvEntry | undefined>(watch.snapshots);
    try {
      await client.kv.put('w/restart', 'before');
      await seen.waitFor((v) => v?.value === 'before');
      await server.restart({ downForMs: 1_000 });
      await client.kv.put('w/restart', 'after');
      await seen.waitFor((v) => v?.value === 'after', 30_000);
      expect(statuses.values).to.include('retrying');
      expect(statuses.values[statuses.values.length - 1]).to.equal('connected');
    } finally {
      seen.stop();
      statuses.stop();
      await client.close();
      await server.stop();
    }
  });

  it('starts over when a restarted dev agent lost its data and its index went backwards', async function () {
    this.timeout(60_000);
    await consul.kv.put('w/lost', 'before');
    // A short wait: a query parked at an index the new agent has not reached returns when it ends.
    const watch = watchKey(consul, 'w/lost', { ...fastRetry, waitSeconds: 1 });
    const seen = new Recorder<KvEntry | undefined>(watch.snapshots);
    try {
      await seen.waitFor((v) => v?.value === 'before');
      await fixture.restart();
      await seen.waitFor((v) => v === undefined, 20_000); // the dev agent came back empty
      await consul.kv.put('w/lost', 'after');
      await seen.waitFor((v) => v?.value === 'after', 20_000);
    } finally {
      seen.stop();
    }
  });

  it('aborts its in-flight blocking query when the last subscriber leaves', async function () {
    const watch = watchKey(consul, 'w/abort', { ...fastRetry, waitSeconds: 300 });
    const seen = new Recorder(watch.snapshots);
    await seen.waitFor((v) => v === undefined);
    await new Promise((r) => setTimeout(r, 100)); // the next request is now parked in Consul
    seen.stop();
    // With the request aborted the pool has nothing in flight; a parked 5-minute query would show here.
    expect(await waitForIdle(consul)).to.equal(true);
  });
});

/** True once the client's pool reports no running requests (polled briefly). */
async function waitForIdle(consul: Consul): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (consul.client.requestsInFlight() === 0) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return false;
}
