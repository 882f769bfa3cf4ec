// Exit handling with real processes: crash-loop backoff, standby, per-exit-code actions, the memory
// limit, and a changed spec restarting the process.
import { expect } from 'chai';
import { exponentialBackoff } from '../../src/core/backoff.js';
import { TestApps, delay, recordStatuses } from '../fixtures/process.js';
import { eventually } from '../fixtures/eventually.js';

const quickBackoff = () => exponentialBackoff({ initialMs: 100, maxMs: 2_000, jitter: 0 });

describe('AppProcess exit handling (real processes)', function () {
  this.timeout(30_000);
  const apps = new TestApps();
  afterEach(() => apps.stopAll());

  it('restarts a crashing app with growing delays', async function () {
    const app = apps.create(
      { name: 'crasher', command: 'sh -c "exit 1"' },
      { restartBackoff: quickBackoff() },
    );
    const statuses = recordStatuses(app);
    app.start();
    await eventually('a fourth start', () => app.status().starts >= 4);
    const backoffs = statuses.filter((s) => s.state === 'backoff');
    const planned = backoffs
      .slice(0, 3)
      .map((s) => Date.parse(s.next_start_time ?? '') - Date.parse(s.last_exit_time ?? ''));
    expect(planned).to.deep.equal([100, 200, 400]);
    const startTimes = [
      ...new Set(statuses.map((s) => s.last_start_time).filter((t): t is string => t !== undefined)),
    ].map(Date.parse);
    const gaps = startTimes.slice(1).map((t, i) => t - (startTimes[i] ?? 0));
    expect(gaps[1]).to.be.greaterThan(gaps[0] ?? Infinity);
    expect(gaps[2]).to.be.greaterThan(gaps[1] ?? Infinity);
    expect(app.status().return_code).to.equal(1);
    expect(app.status().last_error).to.equal('process exited with code 1');
  });

  it('keeps a standby app down until it is restarted', async function () {
    const app = apps.create({ name: 'once', command: 'sh -c "exit 0"', behavior: { exit: 'standby' } });
    app.start();
    await eventually('standby', () => app.status().state === 'standby');
    await delay(500);
    expect(app.status()).to.include({ state: 'standby', starts: 1, return_code: 0 });
    await app.restart();
    await eventually('a second run', () => app.status().starts === 2 && app.status().state === 'standby');
  });

  it('applies the per-exit-code action: exit 0 stays down, exit 1 restarts', async function () {
    const behavior = { exit: 'restart', control: { '0': 'standby' } };
    const clean = apps.create(
      { name: 'clean', command: 'sh -c "exit 0"', behavior },
      { restartBackoff: quickBackoff() },
    );
    const failing = apps.create(
      { name: 'failing', command: 'sh -c "exit 1"', behavior },
      { restartBackoff: quickBackoff() },
    );
    clean.start();
    failing.start();
    await eventually('the failing app to restart', () => failing.status().starts >= 2);
    await delay(300);
    expect(clean.status()).to.include({ state: 'standby', starts: 1 });
  });

  it('marks an app removed when its exit action is remove', async function () {
    const app = apps.create({ name: 'oneshot', command: 'true', behavior: { exit: 'remove' } });
    const statuses = recordStatuses(app);
    app.start();
    await eventually('removed', () => app.status().state === 'removed');
    await app.stop();
    expect(statuses.at(-1)?.state).to.equal('removed');
  });

  it('fails an app whose program does not exist, saying so', async function () {
    const app = apps.create({
      name: 'missing',
      command: 'no-such-program-xyz --flag',
      behavior: { exit: 'standby' },
    });
    app.start();
    await eventually('failed', () => app.status().state === 'failed');
    expect(app.status().last_error).to.match(/no-such-program-xyz was not found/);
  });

  it('refuses a shell command line without shell: true', async function () {
    const app = apps.create({ name: 'piped', command: 'echo hi | cat' });
    app.start();
    await eventually('failed', () => app.status().state === 'failed');
    expect(app.status()).to.include({ starts: 0 });
    expect(app.status().last_error).to.match(/set shell: true/);
  });

  it('restarts an app whose process group stays above its memory limit', async function () {
    const hog = 'const a = []; setInterval(() => a.push(Buffer.alloc(16 * 1024 * 1024, 1)), 50);';
    const app = apps.create(
      { name: 'hog', command: `node -e "${hog}"`, resource_limit: { memory_mb: 100 } },
      { restartBackoff: quickBackoff(), resourceSampleMs: 100 },
    );
    app.start();
    await eventually('a restart after exceeding the memory limit', () => app.status().starts >= 2);
    expect(app.status().last_error).to.match(/above resource_limit\.memory_mb 100/);
  });

  it('restarts the process with the new command when the spec changes, not when only the description does', async function () {
    const app = apps.create({ name: 'changing', command: 'sh -c "echo first; sleep 300"' });
    app.start();
    await eventually('first output', () => app.output().lines.includes('first'));
    await app.update({ ...app.spec, description: 'only words changed' });
    expect(app.status().starts).to.equal(1);
    await app.update({ ...app.spec, command: 'sh -c "echo second; sleep 300"' });
    await eventually('second output', () => app.output().lines.includes('second'));
    expect(app.status()).to.include({ starts: 2, state: 'running' });
  });

  it('stops on disable and starts again on enable', async function () {
    const app = apps.create({ name: 'toggled', command: 'sleep 300' });
    app.start();
    await eventually('running', () => app.status().state === 'running');
    await app.disable();
    expect(app.status()).to.include({ state: 'disabled', pid: undefined });
    await app.enable();
    await eventually('running again', () => app.status().state === 'running' && app.status().starts === 2);
  });
});
