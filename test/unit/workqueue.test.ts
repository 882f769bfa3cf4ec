// The work queue on its own, on a virtual clock: de-duplication, the processing/dirty rule that keeps a
// key from running twice at once, delayed and rate-limited adds, and shutdown.
import { expect } from 'chai';
import { WorkQueue } from '../../src/runtime/workqueue.js';
import { settle, VirtualClock } from '../fixtures/virtual-clock.js';

const doubling = (attempt: number) => 100 * 2 ** (attempt - 1);

function newQueue(clock = new VirtualClock()) {
  const depths: number[] = [];
  let adds = 0;
  let retries = 0;
  const queue = new WorkQueue<string>({
    clock,
    backoff: doubling,
    onDepthChange: (depth) => depths.push(depth),
    onAdd: () => adds++,
    onRetry: () => retries++,
  });
  return { queue, clock, depths, counts: () => ({ adds, retries }) };
}

describe('WorkQueue', function () {
  it('queues a key once however often it is added', async function () {
    const { queue, counts } = newQueue();
    queue.add('a');
    queue.add('b');
    queue.add('a');
    expect(queue.length).to.equal(2);
    expect(counts().adds).to.equal(2);
    expect(await queue.get()).to.equal('a');
    expect(await queue.get()).to.equal('b');
    expect(queue.length).to.equal(0);
  });

  it('does not hand out a key being processed; an add meanwhile re-queues it once at done()', async function () {
    const { queue } = newQueue();
    queue.add('a');
    const key = await queue.get();
    expect(key).to.equal('a');
    queue.add('a');
    queue.add('a');
    expect(queue.length).to.equal(0);

    let second: string | undefined;
    void queue.get().then((k) => (second = k));
    await settle();
    expect(second).to.equal(undefined);

    queue.done('a');
    await settle();
    expect(second).to.equal('a');
    queue.done('a');
    expect(queue.length).to.equal(0);
  });

  it('wakes a waiting get() when a key arrives', async function () {
    const { queue } = newQueue();
    const pending = queue.get();
    queue.add('x');
    expect(await pending).to.equal('x');
  });

  it('de-duplicates adds made before a woken get() has taken its key', async function () {
    const { queue } = newQueue();
    const pending = queue.get();
    queue.add('a');
    queue.add('a');
    expect(await pending).to.equal('a');
    queue.done('a');
    expect(queue.length).to.equal(0);
  });

  it('adds a delayed key when its time comes, the earliest of several delays winning', async function () {
    const { queue, clock, counts } = newQueue();
    queue.addAfter('a', 1000);
    queue.addAfter('a', 300);
    queue.addAfter('a', 2000);
    expect(clock.pendingDelays()).to.deep.equal([300]);
    clock.advance(299);
    expect(queue.length).to.equal(0);
    clock.advance(1);
    expect(queue.length).to.equal(1);
    expect(await queue.get()).to.equal('a');
    expect(counts().retries).to.equal(3);
  });

  it('backs off per key by its failure count and starts over after forget()', function () {
    const { queue, clock } = newQueue();
    queue.addRateLimited('a');
    expect(clock.pendingDelays()).to.deep.equal([100]);
    clock.advance(100);
    queue.addRateLimited('a');
    expect(clock.pendingDelays()).to.deep.equal([200]);
    clock.advance(200);
    queue.addRateLimited('a');
    queue.addRateLimited('b');
    expect(clock.pendingDelays()).to.deep.equal([100, 400]);
    expect(queue.numRequeues('a')).to.equal(3);
    queue.forget('a');
    expect(queue.numRequeues('a')).to.equal(0);
  });

  it('reports its depth as keys come and go', async function () {
    const { queue, depths } = newQueue();
    queue.add('a');
    queue.add('b');
    await queue.get();
    expect(depths).to.deep.equal([1, 2, 1]);
  });

  it('on shutDown wakes waiters with undefined, drops queued keys and cancels delayed adds', async function () {
    const { queue, clock } = newQueue();
    const waiting = queue.get();
    queue.shutDown();
    expect(await waiting).to.equal(undefined);

    const other = newQueue();
    other.queue.add('a');
    other.queue.addAfter('b', 500);
    other.queue.shutDown();
    expect(other.clock.pendingTimers).to.equal(0);
    expect(other.queue.length).to.equal(0);
    expect(await other.queue.get()).to.equal(undefined);
    other.queue.add('c');
    expect(other.queue.length).to.equal(0);
    expect(clock.pendingTimers).to.equal(0);
  });
});
