// The AppSupervisor behind a real one-worker Controller, with injected runs that misbehave as no real
// process can on demand: a launch that never settles, a stop that never finishes. Other apps must keep
// starting, stopping and being deleted meanwhile; the hung launch fails with last_error; a name whose
// old process is still stopping is never launched twice.
import { expect } from 'chai';
import { Registry } from 'prom-client';
import { BehaviorSubject } from 'rxjs';
import type { AppSpec } from '../../api/app.js';
import { AppSupervisor, type DesiredApp, type DesiredApps } from '../../controllers/app-supervisor.js';
import type { ChildRunOptions, Run, RunExit } from '../../src/process/child-run.js';
import { Controller } from '../../src/runtime/controller.js';
import { silentLogger } from '../../src/runtime/logger.js';
import { RuntimeMetrics } from '../../src/runtime/runtime-metrics.js';
import { eventually } from '../fixtures/eventually.js';

const LAUNCH_TIMEOUT_MS = 400;

type Behaviour = 'normal' | 'never-settles' | 'never-stops';

/** A run that "spawns" at once (pid = this test process, never signalled) and exits when terminated. */
class FakeRun implements Run {
  readonly startedAt = Date.now();
  readonly pid: number | undefined;
  readonly spawned: Promise<boolean>;
  readonly exited: Promise<RunExit>;
  #exit: (exit: RunExit) => void = () => undefined;
  terminated = false;

  constructor(
    readonly app: string,
    private readonly behaviour: Behaviour,
  ) {
    this.pid = behaviour === 'never-settles' ? undefined : process.pid;
    this.spawned =
      behaviour === 'never-settles' ? new Promise<boolean>(() => undefined) : Promise.resolve(true);
    this.exited = new Promise((resolve) => (this.#exit = resolve));
  }

  terminate(): Promise<RunExit> {
    this.terminated = true;
    if (this.behaviour === 'normal') this.release();
    return this.exited;
  }

  /** Lets a run that would not stop exit now. */
  release(): void {
    this.#exit({ code: 0, signal: undefined, spawnError: undefined, endedAt: Date.now() });
  }
}

describe('AppSupervisor isolation (injected runs that misbehave)', function () {
  this.timeout(20_000);
  let desired: BehaviorSubject<DesiredApps>;
  let supervisor: AppSupervisor;
  let controller: Controller<string>;
  let runs: FakeRun[];
  let behaviours: Map<string, Behaviour>;

  const spec = (name: string, extra: Partial<AppSpec> = {}): DesiredApp => ({
    spec: { name, command: `run-${name}`, stop_timeout_seconds: 0, ...extra } as AppSpec,
    owner: 'local',
  });
  const setDesired = (...apps: DesiredApp[]) =>
    desired.next(new Map(apps.map((app) => [app.spec.name, app])));
  const state = (name: string) => supervisor.status(name)?.state;
  const runsOf = (name: string) => runs.filter((run) => run.app === name);

  beforeEach(function () {
    runs = [];
    behaviours = new Map();
    desired = new BehaviorSubject<DesiredApps>(new Map());
    const launcher = (options: ChildRunOptions): Run => {
      const app = options.env['APPMESH_APP'] ?? '?';
      const run = new FakeRun(app, behaviours.get(app) ?? 'normal');
      runs.push(run);
      return run;
    };
    supervisor = new AppSupervisor({
      desired: () => desired.value,
      processDeps: () => ({
        logger: silentLogger(),
        launcher,
        launchTimeoutMs: LAUNCH_TIMEOUT_MS,
        resourceSampleMs: 60_000,
      }),
      refusal: (_name, wanted, others) => {
        const total = [wanted, ...others].reduce((sum, s) => sum + (s.output_buffer_bytes ?? 1), 0);
        return total > 1000
          ? `output buffers would total ${total} bytes, above the budget of 1000`
          : undefined;
      },
    });
    controller = new Controller<string>({
      name: 'app-supervisor',
      reconciler: supervisor,
      logger: silentLogger(),
      metrics: new RuntimeMetrics(new Registry()),
    }).watch(desired, (apps) => apps.keys());
    controller.start();
  });

  afterEach(async function () {
    for (const run of runs) run.release();
    await controller.stop();
    await supervisor.stopAll();
  });

  it('starts, stops and deletes other apps while one launch never settles, then fails that launch', async function () {
    behaviours.set('hung', 'never-settles');
    setDesired(spec('hung'), spec('a'));
    await eventually('a running', () => state('a') === 'running', 2_000);
    expect(state('hung')).to.equal('starting');
    setDesired(spec('hung'), spec('a'), spec('b'));
    await eventually('b running', () => state('b') === 'running', 2_000);
    setDesired(spec('hung'), spec('b'));
    await eventually('a deleted', () => !supervisor.names().includes('a'), 2_000);
    expect(runsOf('a')[0]?.terminated).to.equal(true);
    await eventually('hung failed', () => state('hung') === 'failed', LAUNCH_TIMEOUT_MS + 2_000);
    expect(supervisor.status('hung')?.last_error).to.match(/neither started nor failed within 0.4 s/);
    expect(state('b')).to.equal('running');
  });

  it('answers a restart of a hung launch and keeps serving others', async function () {
    behaviours.set('hung', 'never-settles');
    setDesired(spec('hung'), spec('a'));
    await eventually('a running', () => state('a') === 'running', 2_000);
    const started = Date.now();
    expect(await supervisor.restart('hung')).to.equal(true);
    expect(Date.now() - started).to.be.below(LAUNCH_TIMEOUT_MS + 1_000);
    setDesired(spec('hung'), spec('a'), spec('c'));
    await eventually('c running', () => state('c') === 'running', 2_000);
  });

  it('keeps serving others while a deleted app will not stop, and never runs its name twice', async function () {
    behaviours.set('stuck', 'never-stops');
    setDesired(spec('stuck'), spec('a'));
    await eventually('stuck running', () => state('stuck') === 'running', 2_000);
    setDesired(spec('a'));
    await eventually('stuck asked to stop', () => runsOf('stuck')[0]?.terminated === true, 2_000);
    // The worker is free: a new app starts and an old one goes while stuck is still stopping.
    setDesired(spec('a'), spec('d'));
    await eventually('d running', () => state('d') === 'running', 2_000);
    setDesired(spec('d'));
    await eventually('a deleted', () => !supervisor.names().includes('a'), 2_000);
    // Re-created while its old process has not exited: it waits, rather than running twice.
    setDesired(spec('d'), spec('stuck'));
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(runsOf('stuck')).to.have.length(1);
    runsOf('stuck')[0]?.release();
    await eventually('stuck launched again', () => runsOf('stuck').length === 2, 2_000);
    await eventually('stuck running again', () => state('stuck') === 'running', 2_000);
  });

  it('refuses an app over the agent-wide budget with last_error and runs the rest', async function () {
    setDesired(spec('a', { output_buffer_bytes: 600 }), spec('b', { output_buffer_bytes: 300 }));
    await eventually('both running', () => state('a') === 'running' && state('b') === 'running', 2_000);
    setDesired(
      spec('a', { output_buffer_bytes: 600 }),
      spec('b', { output_buffer_bytes: 300 }),
      spec('big', { output_buffer_bytes: 500 }),
    );
    await eventually('big refused', () => state('big') === 'failed', 2_000);
    expect(supervisor.status('big')?.last_error).to.match(/above the budget of 1000/);
    expect(runsOf('big')).to.have.length(0);
    // Making room lets it run.
    setDesired(spec('b', { output_buffer_bytes: 300 }), spec('big', { output_buffer_bytes: 500 }));
    await eventually('big running', () => state('big') === 'running', 2_000);
  });

  it('stops everything within its bounds even with a launch that never settles', async function () {
    behaviours.set('hung', 'never-settles');
    setDesired(spec('hung'), spec('a'));
    await eventually('a running', () => state('a') === 'running', 2_000);
    const started = Date.now();
    await controller.stop();
    await supervisor.stopAll();
    expect(Date.now() - started).to.be.below(LAUNCH_TIMEOUT_MS + 2_000);
  });
});
