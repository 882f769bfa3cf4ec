// Backoff: grows exponentially, is capped, and its jitter only ever shortens a delay.
import { expect } from 'chai';
import { exponentialBackoff } from '../../src/core/backoff.js';
import { parseGoDurationSeconds } from '../../src/consul/session.js';

describe('exponentialBackoff', function () {
  it('doubles from the initial delay up to the cap without jitter', function () {
    const backoff = exponentialBackoff({ initialMs: 100, maxMs: 1000, jitter: 0 });
    expect([1, 2, 3, 4, 5, 6].map(backoff)).to.deep.equal([100, 200, 400, 800, 1000, 1000]);
  });

  it('applies jitter as a fraction taken off the delay', function () {
    const low = exponentialBackoff({ initialMs: 1000, maxMs: 1000, jitter: 0.5, random: () => 0.5 });
    const high = exponentialBackoff({ initialMs: 1000, maxMs: 1000, jitter: 0.5, random: () => 0 });
    expect(low(1)).to.equal(750);
    expect(high(1)).to.equal(1000);
  });

  it('rejects nonsensical settings', function () {
    expect(() => exponentialBackoff({ initialMs: 0, maxMs: 10 })).to.throw(RangeError);
    expect(() => exponentialBackoff({ initialMs: 10, maxMs: 5 })).to.throw(RangeError);
    expect(() => exponentialBackoff({ initialMs: 1, maxMs: 5, jitter: 2 })).to.throw(RangeError);
  });
});

describe('parseGoDurationSeconds', function () {
  it('parses the durations Consul reports', function () {
    expect(parseGoDurationSeconds('30s')).to.equal(30);
    expect(parseGoDurationSeconds('1m30s')).to.equal(90);
    expect(parseGoDurationSeconds('1h')).to.equal(3600);
    expect(parseGoDurationSeconds('15000ms')).to.equal(15);
    expect(parseGoDurationSeconds('0')).to.equal(0);
  });

  it('returns undefined for text that is not a duration', function () {
    expect(parseGoDurationSeconds('30')).to.equal(undefined);
    expect(parseGoDurationSeconds('s30')).to.equal(undefined);
    expect(parseGoDurationSeconds('')).to.equal(undefined);
  });
});
