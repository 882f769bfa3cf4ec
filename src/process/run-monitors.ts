// Watches one running process group for its supervisor: samples the group's memory and CPU, notices
// when it stays above resource_limit.memory_mb, and runs the health check on its interval. The spec is
// read at each sample and check, so a changed limit or check applies without a restart.
import type { Logger } from 'winston';
import { appDefaults, type AppSpec } from '../../api/app.js';
import type { Clock } from '../core/clock.js';
import { commandLineFor, type CommandLine } from './command-line.js';
import { runHealthCheck, type HealthCheckResult } from './health-check.js';
import { PeriodicTask } from './periodic-task.js';
import { readGroupUsage, type GroupUsage } from './proc-stat.js';

/** A group above resource_limit.memory_mb for this many samples in a row is over its limit. */
export const MEMORY_SAMPLES_OVER_LIMIT = 3;

export interface RunMonitorEvents {
  readonly usage: (usage: GroupUsage) => void;
  /** Called once, when the limit has been exceeded for MEMORY_SAMPLES_OVER_LIMIT samples in a row. */
  readonly overMemoryLimit: (rssBytes: number, limitMb: number) => void;
  readonly health: (result: HealthCheckResult) => void;
}

/** How the run was launched; its health checks run the same way (environment, user). */
export interface LaunchIdentity {
  readonly env: Readonly<Record<string, string>>;
  /** Wraps a command line so it runs as the app's exec_user (identity when there is none). */
  readonly asUser: (commandLine: CommandLine) => CommandLine;
}

export interface RunMonitorOptions {
  readonly pgid: number;
  readonly identity: LaunchIdentity;
  readonly spec: () => AppSpec;
  readonly sampleMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly events: RunMonitorEvents;
}

export class RunMonitors {
  readonly #tasks: readonly PeriodicTask[];
  #samplesOverLimit = 0;
  #overLimitReported = false;

  constructor(private readonly options: RunMonitorOptions) {
    const { clock, logger } = options;
    this.#tasks = [
      new PeriodicTask(
        () => this.#sample(),
        // Without a memory limit the figures are only for display: sample 5x less often, which is most
        // of an idle agent's CPU when it runs hundreds of apps.
        () =>
          options.spec().resource_limit?.memory_mb !== undefined ? options.sampleMs : options.sampleMs * 5,
        clock,
        (err) => logger.debug('resource sample failed', { error: String(err) }),
      ),
      new PeriodicTask(
        (signal) => this.#checkHealth(signal),
        () => (options.spec().health_check_interval_seconds ?? appDefaults.healthCheckIntervalSeconds) * 1000,
        clock,
        (err) => logger.warn('health check could not run', { error: String(err) }),
      ),
    ];
  }

  /** The first sample and check run at once. */
  start(): void {
    for (const task of this.#tasks) task.start();
  }

  /** Stops both loops; a health check in flight is killed and awaited. */
  async stop(): Promise<void> {
    await Promise.all(this.#tasks.map((task) => task.stop()));
  }

  async #sample(): Promise<void> {
    const usage = await readGroupUsage(this.options.pgid);
    this.options.events.usage(usage);
    const limitMb = this.options.spec().resource_limit?.memory_mb;
    if (limitMb === undefined || usage.rssBytes <= limitMb * 1024 * 1024) {
      this.#samplesOverLimit = 0;
      return;
    }
    this.#samplesOverLimit += 1;
    if (this.#samplesOverLimit >= MEMORY_SAMPLES_OVER_LIMIT && !this.#overLimitReported) {
      this.#overLimitReported = true;
      this.options.events.overMemoryLimit(usage.rssBytes, limitMb);
    }
  }

  async #checkHealth(signal: AbortSignal): Promise<void> {
    const spec = this.options.spec();
    if (spec.health_check_cmd === undefined) return;
    let result: HealthCheckResult;
    try {
      result = await runHealthCheck({
        commandLine: this.options.identity.asUser(
          commandLineFor(spec.health_check_cmd, spec.shell, 'health_check_cmd'),
        ),
        cwd: spec.working_dir,
        env: this.options.identity.env,
        timeoutMs: (spec.health_check_timeout_seconds ?? appDefaults.healthCheckTimeoutSeconds) * 1000,
        clock: this.options.clock,
        signal,
      });
    } catch (err) {
      // A check that cannot even be split into argv (needs shell: true) counts as failing, with the reason.
      result = { healthy: false, detail: (err as Error).message };
    }
    if (!signal.aborted) this.options.events.health(result);
  }
}
