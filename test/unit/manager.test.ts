// The manager's lifecycle rules on a virtual clock: start order, leader-only controllers following
// leadership, release hooks at shutdown, the leader metric, idempotent stop and signal handling.
import { expect } from 'chai';
import { Registry } from 'prom-client';
import { Subject } from 'rxjs';
import { Controller } from '../../src/runtime/controller.js';
import { silentLogger } from '../../src/runtime/logger.js';
import { Manager, type Runnable } from '../../src/runtime/manager.js';
import { RuntimeMetrics } from '../../src/runtime/runtime-metrics.js';
import { settle, VirtualClock } from '../fixtures/virtual-clock.js';

/** A runnable that records its start and stop; its start can be held until the test releases it. */
class RecordingRunnable implements Runnable {
  private readonly held: Promise<void> | undefined;
  private releaseStart: (() => void) | undefined;

  constructor(
    readonly name: string,
    private readonly events: string[],
    private readonly options: { readonly holdStart?: boolean; readonly failStart?: boolean } = {},
  ) {
    if (options.holdStart === true) this.held = new Promise((resolve) => (this.releaseStart = resolve));
  }

  async start(): Promise<void> {
    this.events.push(`start ${this.name}`);
    await this.held;
    if (this.options.failStart === true) throw new Error('port 6060 is already in use');
  }

  stop(): Promise<void> {
    this.events.push(`stop ${this.name}`);
    return Promise.resolve();
  }

  release(): void {
    this.releaseStart?.();
  }
}

function setup() {
  const clock = new VirtualClock();
  const registry = new Registry();
  const metrics = new RuntimeMetrics(registry);
  const logger = silentLogger();
  const newController = (name: string) =>
    new Controller<string>({
      name,
      reconciler: { reconcile: () => Promise.resolve() },
      logger,
      metrics,
      clock,
      resyncMs: 0,
    });
  const manager = new Manager({ logger, metrics, clock, shutdownTimeoutMs: 1_000 });
  const leaderValue = async () => {
    const { values } = await metrics.leader.get();
    return values[0]?.value;
  };
  return { clock, registry, metrics, manager, newController, leaderValue };
}

describe('Manager', function () {
  it('starts runnables in order before any controller, and stops them in reverse after', async function () {
    const { manager, newController } = setup();
    const events: string[] = [];
    const http = new RecordingRunnable('http', events, { holdStart: true });
    const cache = new RecordingRunnable('cache', events);
    const supervisor = newController('app-supervisor');
    manager.addRunnable(http).addRunnable(cache).addController(supervisor);

    const starting = manager.start();
    await settle();
    expect(events).to.deep.equal(['start http']);
    expect(supervisor.running).to.equal(false);
    http.release();
    await starting;
    expect(events).to.deep.equal(['start http', 'start cache']);
    expect(supervisor.running).to.equal(true);
    expect(manager.started).to.equal(true);

    await manager.stop();
    expect(supervisor.running).to.equal(false);
    expect(events.slice(2)).to.deep.equal(['stop cache', 'stop http']);
    expect(manager.started).to.equal(false);
  });

  it('runs leader-only controllers only while leadership is held, and again when it returns', async function () {
    const { manager, newController, leaderValue } = setup();
    const leadership = new Subject<boolean>();
    const scheduler = newController('scheduler');
    const registrar = newController('service-registrar');
    manager.addController(scheduler, { leaderOnly: true }).addController(registrar).setLeadership(leadership);
    await manager.start();
    expect(scheduler.running).to.equal(false);
    expect(registrar.running).to.equal(true);
    expect(await leaderValue()).to.equal(0);

    leadership.next(true);
    expect(scheduler.running).to.equal(true);
    expect(await leaderValue()).to.equal(1);

    leadership.next(false);
    // Intake stops at once, not after a turn of the event loop.
    expect(scheduler.running).to.equal(false);
    expect(await leaderValue()).to.equal(0);
    await settle();

    leadership.next(true);
    expect(scheduler.running).to.equal(true);
    expect(registrar.running).to.equal(true);

    await manager.stop();
    expect(leadership.observed).to.equal(false);
    expect(await leaderValue()).to.equal(0);
  });

  it('follows leadership that is won and lost in the same turn', async function () {
    const { manager, newController } = setup();
    const leadership = new Subject<boolean>();
    const scheduler = newController('scheduler');
    manager.addController(scheduler, { leaderOnly: true }).setLeadership(leadership);
    await manager.start();
    leadership.next(true);
    leadership.next(false);
    await settle();
    expect(scheduler.running).to.equal(false);
    leadership.next(true);
    await settle();
    expect(scheduler.running).to.equal(true);
    await manager.stop();
  });

  it('starts a leader-only controller again only after its previous run has stopped', async function () {
    const { manager, clock, metrics } = setup();
    const leadership = new Subject<boolean>();
    let finishReconcile: (() => void) | undefined;
    const scheduler = new Controller<string>({
      name: 'scheduler',
      reconciler: { reconcile: () => new Promise<void>((resolve) => (finishReconcile = resolve)) },
      logger: silentLogger(),
      metrics,
      clock,
      resyncMs: 0,
    });
    manager.addController(scheduler, { leaderOnly: true }).setLeadership(leadership);
    await manager.start();
    leadership.next(true);
    scheduler.enqueue('web');
    await settle();

    leadership.next(false);
    leadership.next(true);
    await settle();
    expect(scheduler.running).to.equal(false); // still finishing the reconcile of the lost term
    finishReconcile?.();
    await settle();
    expect(scheduler.running).to.equal(true);
    await manager.stop();
    expect(clock.pendingTimers).to.equal(0);
  });

  it('runs every release hook at stop, after controllers and before runnables, even if one throws', async function () {
    const { manager, newController } = setup();
    const events: string[] = [];
    const reporter = newController('node-reporter');
    manager
      .addRunnable(new RecordingRunnable('http', events))
      .addController(reporter)
      .onRelease(() => {
        events.push(`release session (controller running: ${reporter.running})`);
        return Promise.reject(new Error('consul unreachable'));
      })
      .onRelease(() => {
        events.push('release second');
        return Promise.resolve();
      });
    await manager.start();
    await manager.stop();
    expect(events).to.deep.equal([
      'start http',
      'release session (controller running: false)',
      'release second',
      'stop http',
    ]);
  });

  it('gives up on a controller whose reconciler ignores the abort, so the release still happens', async function () {
    const { manager, clock, metrics } = setup();
    const stubborn = new Controller<string>({
      name: 'stubborn',
      reconciler: { reconcile: () => new Promise<void>(() => undefined) },
      logger: silentLogger(),
      metrics,
      clock,
      resyncMs: 0,
    });
    let released = false;
    manager.addController(stubborn).onRelease(() => {
      released = true;
      return Promise.resolve();
    });
    await manager.start();
    stubborn.enqueue('web');
    await settle();
    const stopping = manager.stop();
    await settle();
    clock.advance(1_000); // the shutdown timeout: reconciles are aborted, and this one ignores it
    await settle();
    expect(released).to.equal(false);
    clock.advance(5_000);
    await stopping;
    expect(released).to.equal(true);
    expect(clock.pendingTimers).to.equal(0);
  });

  it('stops once however often stop() is called', async function () {
    const { manager, clock } = setup();
    const events: string[] = [];
    let releases = 0;
    manager.addRunnable(new RecordingRunnable('http', events)).onRelease(() => {
      releases++;
      return Promise.resolve();
    });
    await manager.start();
    const first = manager.stop();
    const second = manager.stop();
    expect(second).to.equal(first);
    await Promise.all([first, second, manager.stop()]);
    await manager.stop();
    expect(releases).to.equal(1);
    expect(events.filter((e) => e.startsWith('stop'))).to.deep.equal(['stop http']);
    expect(clock.pendingTimers).to.equal(0);
  });

  it('stops what it started and rethrows when a runnable fails to start', async function () {
    const { manager, newController } = setup();
    const events: string[] = [];
    const controller = newController('app-supervisor');
    manager
      .addRunnable(new RecordingRunnable('cache', events))
      .addRunnable(new RecordingRunnable('http', events, { failStart: true }))
      .addRunnable(new RecordingRunnable('never', events))
      .addController(controller);
    let failure: unknown;
    await manager.start().catch((error: unknown) => (failure = error));
    expect(failure)
      .to.be.instanceOf(Error)
      .with.property('message', 'manager: runnable http failed to start: port 6060 is already in use');
    expect(events).to.deep.equal(['start cache', 'start http', 'stop cache']);
    expect(controller.running).to.equal(false);
  });

  it('stops on SIGTERM and removes its signal handlers afterwards', async function () {
    const { manager } = setup();
    const before = { term: process.listenerCount('SIGTERM'), int: process.listenerCount('SIGINT') };
    await manager.start();
    const done = manager.stopOnSignals();
    expect(process.listenerCount('SIGTERM')).to.equal(before.term + 1);
    expect(process.listenerCount('SIGINT')).to.equal(before.int + 1);
    process.emit('SIGTERM', 'SIGTERM');
    await done;
    expect(manager.started).to.equal(false);
    expect(process.listenerCount('SIGTERM')).to.equal(before.term);
    expect(process.listenerCount('SIGINT')).to.equal(before.int);
  });

  it('removes its signal handlers when stopped some other way', async function () {
    const { manager } = setup();
    const before = process.listenerCount('SIGTERM');
    await manager.start();
    const done = manager.stopOnSignals();
    await manager.stop();
    await done;
    expect(process.listenerCount('SIGTERM')).to.equal(before);
  });
});
