// Controller and work-queue metrics under controller-runtime's names with the `appmesh_` prefix, so
// dashboards written for controller-runtime carry over. Label sets are created at 0 when a controller
// registers, so a rate() over a counter that has not moved yet still returns a series.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type ReconcileOutcome = 'success' | 'error' | 'requeue_after' | 'terminal_error';

const RECONCILE_OUTCOMES: readonly ReconcileOutcome[] = [
  'success',
  'error',
  'requeue_after',
  'terminal_error',
];

export class RuntimeMetrics {
  readonly reconcileTotal: Counter<'controller' | 'result'>;
  /** Every failed reconcile, terminal or not (as controller-runtime counts them). */
  readonly reconcileErrors: Counter<'controller'>;
  readonly terminalReconcileErrors: Counter<'controller'>;
  readonly reconcileTime: Histogram<'controller'>;
  readonly activeWorkers: Gauge<'controller'>;
  readonly workqueueDepth: Gauge<'controller'>;
  readonly workqueueAdds: Counter<'controller'>;
  readonly workqueueRetries: Counter<'controller'>;
  /** 1 while this agent holds the cluster leadership, else 0. */
  readonly leader: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    this.reconcileTotal = new Counter({
      name: 'appmesh_reconcile_total',
      help: 'Reconciles per controller and result (success, error, requeue_after, terminal_error).',
      labelNames: ['controller', 'result'],
      registers,
    });
    this.reconcileErrors = new Counter({
      name: 'appmesh_reconcile_errors_total',
      help: 'Reconciles that failed, including terminal errors.',
      labelNames: ['controller'],
      registers,
    });
    this.terminalReconcileErrors = new Counter({
      name: 'appmesh_terminal_reconcile_errors_total',
      help: 'Reconciles that failed on bad input (TerminalError) and were not retried.',
      labelNames: ['controller'],
      registers,
    });
    this.reconcileTime = new Histogram({
      name: 'appmesh_reconcile_time_seconds',
      help: 'Time spent in one reconcile.',
      labelNames: ['controller'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.activeWorkers = new Gauge({
      name: 'appmesh_active_workers',
      help: 'Workers currently running a reconcile.',
      labelNames: ['controller'],
      registers,
    });
    this.workqueueDepth = new Gauge({
      name: 'appmesh_workqueue_depth',
      help: 'Keys waiting in the work queue, ready to be reconciled.',
      labelNames: ['controller'],
      registers,
    });
    this.workqueueAdds = new Counter({
      name: 'appmesh_workqueue_adds_total',
      help: 'Keys added to the work queue (de-duplicated adds are not counted).',
      labelNames: ['controller'],
      registers,
    });
    this.workqueueRetries = new Counter({
      name: 'appmesh_workqueue_retries_total',
      help: 'Delayed re-adds to the work queue: backoff after failures and requested requeues.',
      labelNames: ['controller'],
      registers,
    });
    this.leader = new Gauge({
      name: 'appmesh_leader',
      help: '1 while this agent is the cluster leader, else 0.',
      registers,
    });
    this.leader.set(0);
  }

  /** Pre-create every known label set at 0 for this controller. */
  registerController(name: string): void {
    const controller = { controller: name };
    for (const result of RECONCILE_OUTCOMES) this.reconcileTotal.inc({ controller: name, result }, 0);
    this.reconcileErrors.inc(controller, 0);
    this.terminalReconcileErrors.inc(controller, 0);
    this.reconcileTime.zero(controller);
    this.activeWorkers.set(controller, 0);
    this.workqueueDepth.set(controller, 0);
    this.workqueueAdds.inc(controller, 0);
    this.workqueueRetries.inc(controller, 0);
  }
}
