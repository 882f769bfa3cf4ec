// The blocking-query loop's own rules, driven by a scripted fetch (no sleeping, no Consul):
// index bookkeeping, snapshot de-duplication, retry with backoff, abort on unsubscribe, and polling.
import { expect } from 'chai';
import { firstValueFrom, of, take, toArray, type Observable } from 'rxjs';
import { blockingWatch, nextIndex, type BlockingFetch, type WatchStatus } from '../../src/consul/watch.js';

interface Call {
  index: number;
  wait: number;
  signal: AbortSignal;
}

/** A fetch that answers from a script; each step returns a value or throws. */
function scripted<T>(steps: Array<{ index: number; value: T } | Error>): {
  fetch: BlockingFetch<T>;
  calls: Call[];
} {
  const calls: Call[] = [];
  const fetch: BlockingFetch<T> = (index, wait, signal) => {
    calls.push({ index, wait, signal });
    const step = steps.shift();
    if (step === undefined) return new Promise(() => undefined); // park like a blocking query
    return step instanceof Error ? Promise.reject(step) : Promise.resolve(step);
  };
  return { fetch, calls };
}

const noWait = { delay: () => of(0), minIntervalMs: 0 };

describe('nextIndex', function () {
  it('moves forward with Consul, never below 1', function () {
    expect(nextIndex(0, 0)).to.equal(1);
    expect(nextIndex(0, 42)).to.equal(42);
    expect(nextIndex(42, 42)).to.equal(42);
    expect(nextIndex(42, 50)).to.equal(50);
  });

  it('resets to 0 when the index goes backwards', function () {
    expect(nextIndex(50, 7)).to.equal(0);
  });
});

describe('blockingWatch', function () {
  it('sends the last index and skips snapshots equal to the previous one', async function () {
    const { fetch, calls } = scripted([
      { index: 10, value: { a: 1 } },
      { index: 11, value: { a: 1 } },
      { index: 12, value: { a: 2 } },
    ]);
    const values = await firstValueFrom(blockingWatch('t', fetch, noWait).snapshots.pipe(take(2), toArray()));
    expect(values).to.deep.equal([{ a: 1 }, { a: 2 }]);
    expect(calls.map((c) => c.index)).to.deep.equal([0, 10, 11]);
  });

  it('starts over with a plain read when the index goes backwards', async function () {
    const { fetch, calls } = scripted([
      { index: 100, value: 'a' },
      { index: 5, value: 'b' },
      { index: 6, value: 'c' },
    ]);
    await firstValueFrom(blockingWatch('t', fetch, noWait).snapshots.pipe(take(3), toArray()));
    expect(calls.map((c) => c.index)).to.deep.equal([0, 100, 0]);
  });

  it('retries failures with growing backoff and resets it after a success', async function () {
    const delays: number[] = [];
    const attempts: number[] = [];
    const { fetch, calls } = scripted<string>([
      new Error('refused'),
      new Error('refused'),
      { index: 1, value: 'up' },
      new Error('refused'),
      { index: 2, value: 'again' },
    ]);
    const statuses: WatchStatus[] = [];
    const watch = blockingWatch('t', fetch, {
      minIntervalMs: 0,
      backoff: (attempt) => attempt * 100,
      delay: (ms) => {
        delays.push(ms);
        return of(0);
      },
      onRetry: (_err, attempt) => attempts.push(attempt),
    });
    const sub = watch.status.subscribe((s) => statuses.push(s));
    const values = await firstValueFrom(watch.snapshots.pipe(take(2), toArray()));
    sub.unsubscribe();
    expect(values).to.deep.equal(['up', 'again']);
    expect(attempts).to.deep.equal([1, 2, 1]);
    expect(delays).to.deep.equal([100, 200, 100]);
    // After any failure the loop starts over with a plain read (index 0).
    expect(calls.map((c) => c.index)).to.deep.equal([0, 0, 0, 1, 0]);
    expect(statuses).to.deep.equal(['connecting', 'retrying', 'connected', 'retrying', 'connected']);
  });

  it('aborts the parked request when the last subscriber unsubscribes', async function () {
    const { fetch, calls } = scripted([{ index: 3, value: 'x' }]);
    const watch = blockingWatch('t', fetch, noWait);
    const first = watch.snapshots.subscribe();
    const second = watch.snapshots.subscribe();
    await new Promise((r) => setImmediate(r));
    expect(calls).to.have.length(2); // one shared loop: the first read and the parked one
    first.unsubscribe();
    expect(calls[1]?.signal.aborted).to.equal(false);
    second.unsubscribe();
    expect(calls[1]?.signal.aborted).to.equal(true);
  });

  it('waits between requests when the key churns', async function () {
    const waits: number[] = [];
    const { fetch } = scripted([
      { index: 1, value: 1 },
      { index: 2, value: 2 },
    ]);
    const watch = blockingWatch('t', fetch, {
      minIntervalMs: 60_000,
      delay: (ms) => {
        waits.push(ms);
        return of(0);
      },
    });
    await firstValueFrom(watch.snapshots.pipe(take(2), toArray()));
    expect(waits).to.have.length(1);
    expect(waits[0]).to.be.greaterThan(59_000);
  });

  describe('with pollIntervalMs (the polling baseline)', function () {
    /** Records every pause the loop asks for, without sleeping. */
    function recordingDelay(): { delay: (ms: number) => Observable<number>; waits: number[] } {
      const waits: number[] = [];
      return {
        waits,
        delay: (ms) => {
          waits.push(ms);
          return of(0);
        },
      };
    }

    it('makes plain reads (index 0, no wait) however far the index has moved', async function () {
      const { fetch, calls } = scripted([
        { index: 10, value: 'a' },
        { index: 11, value: 'b' },
        { index: 12, value: 'c' },
      ]);
      const { delay } = recordingDelay();
      const watch = blockingWatch('t', fetch, { pollIntervalMs: 5_000, waitSeconds: 300, delay });
      await firstValueFrom(watch.snapshots.pipe(take(3), toArray()));
      expect(calls.map((c) => [c.index, c.wait])).to.deep.equal([
        [0, 0],
        [0, 0],
        [0, 0],
      ]);
    });

    it('waits the interval between the starts of two reads, and reads at once the first time', async function () {
      const { fetch, calls } = scripted([
        { index: 1, value: 1 },
        { index: 2, value: 2 },
        { index: 3, value: 3 },
      ]);
      const { delay, waits } = recordingDelay();
      const watch = blockingWatch('t', fetch, { pollIntervalMs: 60_000, minIntervalMs: 0, delay });
      await firstValueFrom(watch.snapshots.pipe(take(3), toArray()));
      expect(calls).to.have.length(3);
      expect(waits).to.have.length(2);
      for (const ms of waits) expect(ms).to.be.within(59_000, 60_000);
    });

    it('still emits only snapshots that differ from the previous one', async function () {
      const { fetch, calls } = scripted([
        { index: 5, value: { a: 1 } },
        { index: 5, value: { a: 1 } },
        { index: 5, value: { a: 1 } },
        { index: 6, value: { a: 2 } },
      ]);
      const { delay } = recordingDelay();
      const watch = blockingWatch('t', fetch, { pollIntervalMs: 5_000, delay });
      const values = await firstValueFrom(watch.snapshots.pipe(take(2), toArray()));
      expect(values).to.deep.equal([{ a: 1 }, { a: 2 }]);
      expect(calls).to.have.length(4);
    });

    it('retries a failed read with the backoff, then polls on', async function () {
      const { fetch, calls } = scripted<string>([new Error('refused'), { index: 1, value: 'up' }]);
      const { delay, waits } = recordingDelay();
      const watch = blockingWatch('t', fetch, { pollIntervalMs: 60_000, backoff: () => 250, delay });
      expect(await firstValueFrom(watch.snapshots)).to.equal('up');
      expect(calls.map((c) => c.index)).to.deep.equal([0, 0]);
      expect(waits[0]).to.equal(250);
    });

    it('rejects an interval that is not positive', function () {
      const { fetch } = scripted<string>([]);
      expect(() => blockingWatch('t', fetch, { pollIntervalMs: 0 })).to.throw(RangeError, /pollIntervalMs/);
    });
  });
});
