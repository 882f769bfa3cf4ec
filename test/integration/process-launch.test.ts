// Issue 14: launches Node refuses without firing spawn, error or exit (a NUL byte in env or cwd) fail
// their run at once, through a real ChildRun and a real AppProcess given a spec that skipped decoding, so
// the supervisor never waits on them; an unknown exec_user fails the app with last_error.
import { expect } from 'chai';
import type { AppSpec } from '../../api/app.js';
import { systemClock } from '../../src/core/clock.js';
import { ChildRun } from '../../src/process/child-run.js';
import { AppProcess } from '../../src/process/index.js';
import { silentLogger } from '../../src/runtime/logger.js';
import { eventually } from '../fixtures/eventually.js';

const raw = (fields: Record<string, unknown>) => ({ name: 'raw', ...fields }) as unknown as AppSpec;

describe('launches that cannot start (real processes, undecoded specs)', function () {
  this.timeout(20_000);
  const apps: AppProcess[] = [];
  afterEach(async function () {
    await Promise.all(apps.splice(0).map((app) => app.stop()));
  });

  for (const [what, options] of [
    ['env', { env: { PATH: '/usr/bin:/bin', A: 'x\u0000y' }, cwd: undefined }],
    ['cwd', { env: { PATH: '/usr/bin:/bin' }, cwd: '/tmp\u0000x' }],
  ] as const) {
    it(`settles a run with a NUL byte in its ${what} as a failed start`, async function () {
      const started = Date.now();
      const run = new ChildRun({
        commandLine: { file: 'true', args: [] },
        ...options,
        graceMs: 100,
        clock: systemClock,
        onLine: () => undefined,
        onError: () => undefined,
      });
      expect(await run.spawned).to.equal(false);
      const exit = await run.exited;
      expect(exit.spawnError?.message).to.match(/null bytes/);
      expect(Date.now() - started).to.be.below(2_000);
    });
  }

  it('fails an app whose spec skipped decoding with a NUL in env, without hanging its stop', async function () {
    const app = new AppProcess(
      raw({ command: 'true', env: { A: 'x\u0000y' }, behavior: { exit: 'standby' } }),
      {
        logger: silentLogger(),
      },
    );
    apps.push(app);
    app.start();
    const status = await eventually(
      'failed',
      () => (app.status().state === 'failed' ? app.status() : undefined),
      3_000,
    );
    expect(status.last_error).to.match(/could not start the app/);
    const stopping = Date.now();
    await app.stop();
    expect(Date.now() - stopping).to.be.below(1_000);
  });

  it('fails an app whose exec_user does not exist, saying so', async function () {
    const app = new AppProcess(raw({ command: 'sleep 5', exec_user: 'no-such-user-4901' }), {
      logger: silentLogger(),
    });
    apps.push(app);
    app.start();
    const status = await eventually(
      'failed',
      () => (app.status().state === 'failed' ? app.status() : undefined),
      3_000,
    );
    expect(status.last_error).to.match(/exec_user: no user "no-such-user-4901"/);
  });
});
