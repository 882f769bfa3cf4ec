// The controller's reconcile loop on a virtual clock, with a reconciler the test finishes by hand:
// one reconcile per key at a time, re-runs, backoff, requeues, terminal errors, resync and stopping.
import { expect } from 'chai';
import { Registry } from 'prom-client';
import { BehaviorSubject, Subject } from 'rxjs';
import { Writable } from 'node:stream';
import { Controller, type ControllerOptions } from '../../src/runtime/controller.js';
import { createLogger, silentLogger, type Logger } from '../../src/runtime/logger.js';
import { TerminalError, type ReconcileResult, type Reconciler } from '../../src/runtime/reconciler.js';
import { RuntimeMetrics } from '../../src/runtime/runtime-metrics.js';
import { settle, VirtualClock } from '../fixtures/virtual-clock.js';

interface Call {
  readonly key: string;
  readonly signal: AbortSignal;
  readonly settled: boolean;
  finish(result?: ReconcileResult): void;
  fail(error: unknown): void;
}

/** Records each reconcile and leaves it running until the test finishes it (or its signal aborts). */
class ManualReconciler implements Reconciler<string> {
  readonly calls: Call[] = [];
  /** Set if a key was ever reconciled twice at once. */
  overlapped = false;
  private readonly running = new Set<string>();

  reconcile(key: string, signal: AbortSignal): Promise<ReconcileResult> {
    if (this.running.has(key)) this.overlapped = true;
    this.running.add(key);
    return new Promise((resolve, reject) => {
      const end = () => {
        this.running.delete(key);
        call.settled = true;
      };
      const call = {
        key,
        signal,
        settled: false,
        finish: (result?: ReconcileResult) => {
          end();
          resolve(result);
        },
        fail: (error: unknown) => {
          end();
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      };
      signal.addEventListener('abort', () => call.fail(signal.reason), { once: true });
      this.calls.push(call);
    });
  }

  /** Finishes every reconcile, including those that start meanwhile, until the controller is idle. */
  async finishAll(): Promise<void> {
    for (;;) {
      await settle();
      const open = this.calls.filter((call) => !call.settled);
      if (open.length === 0) return;
      open.forEach((call) => call.finish());
    }
  }

  keys(): string[] {
    return this.calls.map((call) => call.key);
  }

  last(): Call {
    const call = this.calls.at(-1);
    if (call === undefined) throw new Error('no reconcile has been called yet');
    return call;
  }
}

const doubling = (attempt: number) => 100 * 2 ** (attempt - 1);

interface Setup {
  readonly controller: Controller<string>;
  readonly reconciler: ManualReconciler;
  readonly clock: VirtualClock;
  readonly registry: Registry;
}

async function metricValue(
  registry: Registry,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) throw new Error(`metric ${name} is not registered`);
  const { values } = await metric.get();
  const sample = values.find((v) => Object.entries(labels).every(([k, value]) => v.labels[k] === value));
  if (sample === undefined) throw new Error(`metric ${name} has no series ${JSON.stringify(labels)}`);
  return sample.value;
}

function captureLogs(): { logger: Logger; lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  return {
    logger: createLogger({ stream, format: 'json', level: 'debug' }),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

describe('Controller', function () {
  const started: Setup[] = [];

  function setup(options: Partial<ControllerOptions<string>> = {}): Setup {
    const clock = new VirtualClock();
    const registry = new Registry();
    const reconciler = new ManualReconciler();
    const controller = new Controller<string>({
      name: 'test',
      reconciler,
      logger: silentLogger(),
      metrics: new RuntimeMetrics(registry),
      clock,
      backoff: doubling,
      resyncMs: 0,
      ...options,
    });
    const result = { controller, reconciler, clock, registry };
    started.push(result);
    return result;
  }

  afterEach(async function () {
    // Leave nothing running: abort whatever a test left in flight.
    for (const { controller, clock } of started.splice(0)) {
      const stopped = controller.stop(0);
      clock.advance(0);
      await stopped;
      expect(clock.pendingTimers).to.equal(0);
    }
  });

  it('reconciles a key enqueued several times once', async function () {
    const { controller, reconciler, registry } = setup();
    controller.enqueue('a');
    controller.enqueue('b');
    controller.enqueue('a');
    controller.start();
    await reconciler.finishAll();
    expect(reconciler.keys()).to.deep.equal(['a', 'b']);
    expect(await metricValue(registry, 'appmesh_workqueue_adds_total', { controller: 'test' })).to.equal(2);
    expect(
      await metricValue(registry, 'appmesh_reconcile_total', { controller: 'test', result: 'success' }),
    ).to.equal(2);
  });

  it('never reconciles one key twice at once, even with two workers', async function () {
    const { controller, reconciler } = setup({ concurrency: 2 });
    controller.start();
    controller.enqueue('a');
    await settle();
    controller.enqueue('a');
    controller.enqueue('b');
    await settle();
    // The second worker takes b; a waits for its running reconcile.
    expect(reconciler.keys()).to.deep.equal(['a', 'b']);
    reconciler.calls[0]?.finish();
    await settle();
    expect(reconciler.keys()).to.deep.equal(['a', 'b', 'a']);
    expect(reconciler.overlapped).to.equal(false);
  });

  it('runs a key once more when it is enqueued during its own reconcile', async function () {
    const { controller, reconciler } = setup();
    controller.start();
    controller.enqueue('a');
    await settle();
    controller.enqueue('a');
    controller.enqueue('a');
    reconciler.last().finish();
    await settle();
    expect(reconciler.keys()).to.deep.equal(['a', 'a']);
    reconciler.last().finish();
    await settle();
    expect(reconciler.keys()).to.deep.equal(['a', 'a']);
  });

  it('retries a failing key with growing backoff and starts over after a success', async function () {
    const { controller, reconciler, clock, registry } = setup();
    controller.start();
    controller.enqueue('a');
    const delays: number[][] = [];
    for (const waitMs of [100, 200, 400]) {
      await settle();
      reconciler.last().fail(new Error('consul refused the connection'));
      await settle();
      delays.push(clock.pendingDelays());
      clock.advance(waitMs);
    }
    await settle();
    expect(delays).to.deep.equal([[100], [200], [400]]);
    expect(reconciler.calls).to.have.length(4);

    reconciler.last().finish();
    await settle();
    expect(clock.pendingTimers).to.equal(0);
    controller.enqueue('a');
    await settle();
    reconciler.last().fail(new Error('consul refused the connection'));
    await settle();
    expect(clock.pendingDelays()).to.deep.equal([100]);

    expect(await metricValue(registry, 'appmesh_reconcile_errors_total', { controller: 'test' })).to.equal(4);
    expect(
      await metricValue(registry, 'appmesh_reconcile_total', { controller: 'test', result: 'error' }),
    ).to.equal(4);
    expect(await metricValue(registry, 'appmesh_workqueue_retries_total', { controller: 'test' })).to.equal(
      4,
    );
  });

  it('reconciles again after the delay a reconcile asked for', async function () {
    const { controller, reconciler, clock, registry } = setup();
    controller.start();
    controller.enqueue('a');
    await settle();
    reconciler.last().finish({ requeueAfterMs: 30_000 });
    await settle();
    clock.advance(29_999);
    await settle();
    expect(reconciler.calls).to.have.length(1);
    clock.advance(1);
    await settle();
    expect(reconciler.calls).to.have.length(2);
    expect(
      await metricValue(registry, 'appmesh_reconcile_total', { controller: 'test', result: 'requeue_after' }),
    ).to.equal(1);
  });

  it('does not retry a terminal error, and counts and logs it', async function () {
    const logs = captureLogs();
    const { controller, reconciler, clock, registry } = setup({ logger: logs.logger });
    controller.start();
    controller.enqueue('web');
    await settle();
    reconciler.last().fail(new TerminalError('task "web": content.command: expected a string, got 42'));
    await settle();
    expect(clock.pendingTimers).to.equal(0);
    clock.advance(3_600_000);
    await settle();
    expect(reconciler.calls).to.have.length(1);

    expect(
      await metricValue(registry, 'appmesh_reconcile_total', {
        controller: 'test',
        result: 'terminal_error',
      }),
    ).to.equal(1);
    expect(
      await metricValue(registry, 'appmesh_terminal_reconcile_errors_total', { controller: 'test' }),
    ).to.equal(1);
    const warning = logs.lines().find((line) => line.level === 'warn');
    expect(warning).to.include({
      controller: 'test',
      key: 'web',
      error: 'task "web": content.command: expected a string, got 42',
    });
  });

  it('treats an error caused by a terminal error as terminal', async function () {
    const { controller, reconciler, clock } = setup();
    controller.start();
    controller.enqueue('a');
    await settle();
    reconciler.last().fail(new Error('placing a', { cause: new TerminalError('bad condition regex') }));
    await settle();
    expect(clock.pendingTimers).to.equal(0);
  });

  it('re-enqueues every known key on each resync', async function () {
    const { controller, reconciler, clock } = setup({ resyncMs: 60_000 });
    const tasks = new BehaviorSubject<string[]>(['a', 'b']);
    const nodes = new BehaviorSubject<string[]>(['b', 'c']);
    controller.watch(tasks, (names) => names).watch(nodes, (names) => names);
    controller.start();
    controller.enqueue('only-enqueued');
    await reconciler.finishAll();
    expect(reconciler.keys()).to.deep.equal(['a', 'b', 'c', 'only-enqueued']);

    clock.advance(60_000);
    await reconciler.finishAll();
    expect(reconciler.keys().slice(4)).to.deep.equal(['a', 'b', 'c']);
    expect(clock.pendingDelays()).to.deep.equal([60_000]);
  });

  it('reconciles a key once more after it disappears from its source', async function () {
    const { controller, reconciler } = setup();
    const tasks = new Subject<string[]>();
    controller.watch(tasks, (names) => names);
    controller.start();
    tasks.next(['a', 'b']);
    await reconciler.finishAll();

    tasks.next(['b']);
    await reconciler.finishAll();
    expect(reconciler.keys().slice(2).sort()).to.deep.equal(['a', 'b']);

    tasks.next(['b']);
    await settle();
    expect(reconciler.keys().slice(4)).to.deep.equal(['b']);
  });

  it('on stop waits for an in-flight reconcile, then aborts it after the timeout', async function () {
    const { controller, reconciler, clock } = setup();
    const tasks = new Subject<string[]>();
    controller.watch(tasks, (names) => names);
    controller.start();
    tasks.next(['a']);
    await settle();
    const call = reconciler.last();

    let stopped = false;
    const stopping = controller.stop(1_000).then(() => (stopped = true));
    expect(controller.running).to.equal(false);
    expect(tasks.observed).to.equal(false);
    clock.advance(999);
    await settle();
    expect(call.signal.aborted).to.equal(false);
    expect(stopped).to.equal(false);

    clock.advance(1);
    await stopping;
    expect(call.signal.aborted).to.equal(true);
    expect(clock.pendingTimers).to.equal(0);
  });

  it('on stop lets a reconcile that finishes in time complete without aborting it', async function () {
    const { controller, reconciler, clock } = setup();
    controller.start();
    controller.enqueue('a');
    await settle();
    const stopping = controller.stop(1_000);
    reconciler.last().finish({ requeueAfterMs: 5_000 });
    await stopping;
    expect(reconciler.last().signal.aborted).to.equal(false);
    // The requested requeue is not scheduled on a stopped queue, so no timer outlives stop().
    expect(clock.pendingTimers).to.equal(0);
    expect(controller.stop()).to.be.instanceOf(Promise);
    await controller.stop();
  });

  it('cancels delayed requeues and resync on stop, and on restart also reconciles keys removed while stopped', async function () {
    const { controller, reconciler, clock } = setup({ resyncMs: 60_000 });
    const tasks = new BehaviorSubject<string[]>(['a']);
    controller.watch(tasks, (names) => names);
    controller.start();
    await settle();
    reconciler.last().fail(new Error('timeout'));
    await settle();
    expect(clock.pendingTimers).to.equal(2); // the backoff and the resync
    await controller.stop();
    expect(clock.pendingTimers).to.equal(0);

    // While stopped, a is removed and b added: the restart reconciles both.
    tasks.next(['b']);
    controller.start();
    await reconciler.finishAll();
    expect(reconciler.keys()).to.deep.equal(['a', 'b', 'a']);
    expect(controller.running).to.equal(true);
  });
});
