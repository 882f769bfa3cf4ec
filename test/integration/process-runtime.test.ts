// Running apps with real processes: output capture, health checks, periodic starts and time windows.
import { expect } from 'chai';
import { TestApps, delay, recordStatuses } from '../fixtures/process.js';
import { eventually } from '../fixtures/eventually.js';

describe('AppProcess output, health and schedule (real processes)', function () {
  this.timeout(30_000);
  const apps = new TestApps();
  afterEach(() => apps.stopAll());

  it('keeps the newest output lines of stdout and stderr, readable from an offset', async function () {
    const app = apps.create({
      name: 'chatty',
      shell: true,
      command: 'i=0; while [ $i -lt 50 ]; do echo "line $i"; i=$((i+1)); done; echo oops >&2',
      output_buffer_lines: 10,
      behavior: { exit: 'standby' },
    });
    app.start();
    await eventually('standby', () => app.status().state === 'standby');
    const all = app.output();
    expect(all.lines).to.deep.equal([...Array.from({ length: 9 }, (_v, i) => `line ${41 + i}`), 'oops']);
    expect(all).to.include({ nextOffset: 51, truncated: true });
    expect(app.output(49)).to.deep.equal({ lines: ['line 49', 'oops'], nextOffset: 51, truncated: false });
  });

  it('is healthy while running without a health check', async function () {
    const app = apps.create({ name: 'plain', command: 'sleep 300' });
    expect(app.healthy()).to.equal(false);
    app.start();
    await eventually('healthy', () => app.healthy());
    expect(app.status().health).to.equal('healthy');
  });

  it('follows its health check: failing is unhealthy, passing is healthy, a hang times out', async function () {
    const app = apps.create({
      name: 'checked',
      command: 'sleep 300',
      health_check_cmd: 'sh -c "exit 1"',
      health_check_interval_seconds: 1,
      health_check_timeout_seconds: 0.5,
    });
    const statuses = recordStatuses(app);
    app.start();
    await eventually('unhealthy', () => statuses.some((s) => s.health === 'unhealthy'));
    expect(app.healthy()).to.equal(false);
    await app.update({ ...app.spec, health_check_cmd: 'true' });
    await eventually('healthy', () => app.healthy());
    await app.update({ ...app.spec, health_check_cmd: 'sleep 30' });
    await eventually('unhealthy after the check timed out', () => !app.healthy(), 5_000);
    expect(app.status().starts).to.equal(1);
  });

  it('starts a periodic app on its interval and shows the next start', async function () {
    const app = apps.create({ name: 'ticker', command: 'echo tick', start_interval_seconds: 2 });
    const statuses = recordStatuses(app);
    app.start();
    await eventually('two runs', () => app.status().starts >= 2, 10_000);
    const firstTwo = [...new Set(statuses.map((s) => s.last_start_time))].filter((t) => t !== undefined);
    const gap = Date.parse(firstTwo[1] ?? '') - Date.parse(firstTwo[0] ?? '');
    expect(gap).to.be.within(1_900, 2_500);
    const between = statuses.find((s) => s.state === 'waiting' && s.next_start_time !== undefined);
    expect(between?.next_start_time).to.be.a('string');
    expect(app.output().lines).to.include('tick');
  });

  it('does not start a periodic app again while its previous run is still going', async function () {
    const app = apps.create({ name: 'slow', command: 'sleep 1.5', start_interval_seconds: 1 });
    app.start();
    await delay(1_300);
    expect(app.status()).to.include({ starts: 1, state: 'running' });
    await eventually('the next tick after the run', () => app.status().starts === 2, 5_000);
  });

  it('stops the app when its window closes and waits for nothing after end_time', async function () {
    const end = new Date(Date.now() + 1_000).toISOString();
    const app = apps.create({ name: 'windowed', command: 'sleep 300', end_time: end });
    app.start();
    await eventually('running', () => app.status().state === 'running');
    await eventually('stopped at end_time', () => app.status().state === 'waiting', 5_000);
    expect(app.status()).to.include({ pid: undefined, next_start_time: undefined });
  });

  it('waits for start_time and then starts', async function () {
    const start = new Date(Date.now() + 800).toISOString();
    const app = apps.create({ name: 'later', command: 'sleep 300', start_time: start });
    app.start();
    expect(app.status()).to.include({
      state: 'waiting',
      next_start_time: new Date(Date.parse(start)).toISOString(),
    });
    await eventually('running after start_time', () => app.status().state === 'running', 5_000);
  });
});
