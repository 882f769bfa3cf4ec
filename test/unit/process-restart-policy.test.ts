// The restart policy: which exit action applies, and how the crash-loop backoff grows and resets.
import { expect } from 'chai';
import type { AppSpec, ExitAction } from '../../api/app.js';
import { exponentialBackoff } from '../../src/core/backoff.js';
import {
  STABLE_RUN_MS,
  decideAfterExit,
  defaultExitAction,
  exitActionFor,
} from '../../src/process/restart-policy.js';

const spec = (fields: Partial<AppSpec>): AppSpec => ({ name: 'app', command: 'true', ...fields }) as AppSpec;
const backoff = exponentialBackoff({ initialMs: 1_000, maxMs: 300_000, jitter: 0 });
const decide = (action: ExitAction, runMs: number, failures: number, periodic = false) =>
  decideAfterExit({ action, runMs, failures, periodic, backoff });

describe('exit actions', function () {
  it('defaults to restart for long-running apps and standby for periodic ones', function () {
    expect(defaultExitAction(spec({}))).to.equal('restart');
    expect(defaultExitAction(spec({ start_interval_seconds: 60 }))).to.equal('standby');
  });

  it('takes the per-exit-code override first, then behavior.exit', function () {
    const app = spec({ behavior: { exit: 'restart', control: { '0': 'standby', '3': 'remove' } } });
    expect(exitActionFor(app, 0)).to.equal('standby');
    expect(exitActionFor(app, 3)).to.equal('remove');
    expect(exitActionFor(app, 1)).to.equal('restart');
    expect(exitActionFor(app, undefined)).to.equal('restart'); // killed by a signal
    expect(exitActionFor(spec({ behavior: { control: { '1': 'keepalive' } } }), 2)).to.equal('restart');
  });
});

describe('decideAfterExit', function () {
  it('doubles the restart delay with each short run, up to 300 s', function () {
    const delays: number[] = [];
    let failures = 0;
    for (let i = 0; i < 11; i++) {
      const decision = decide('restart', 500, failures);
      if (decision.kind !== 'restart') throw new Error(`expected a restart, got ${decision.kind}`);
      delays.push(decision.delayMs);
      failures = decision.failures;
    }
    expect(delays).to.deep.equal([
      1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000, 256_000, 300_000, 300_000,
    ]);
  });

  it('resets the backoff after a run of 60 s or more', function () {
    expect(decide('restart', STABLE_RUN_MS, 7)).to.deep.equal({
      kind: 'restart',
      delayMs: 1_000,
      failures: 1,
    });
    expect(decide('restart', STABLE_RUN_MS - 1, 7)).to.deep.equal({
      kind: 'restart',
      delayMs: 128_000,
      failures: 8,
    });
  });

  it('keepalive restarts at once after a long run, with the crash-loop backoff after a short one', function () {
    expect(decide('keepalive', 120_000, 5)).to.deep.equal({ kind: 'restart', delayMs: 0, failures: 0 });
    expect(decide('keepalive', 2_000, 2)).to.deep.equal({ kind: 'restart', delayMs: 4_000, failures: 3 });
  });

  it('standby stays down, or waits for the schedule when periodic', function () {
    expect(decide('standby', 10, 0)).to.deep.equal({ kind: 'standby' });
    expect(decide('standby', 10, 0, true)).to.deep.equal({ kind: 'next-schedule' });
  });

  it('remove finishes the app', function () {
    expect(decide('remove', 10, 3)).to.deep.equal({ kind: 'remove' });
  });
});
