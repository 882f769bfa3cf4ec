// Supervises one app: starts its process when the spec says it should run (enabled, inside its time
// window, on its schedule), applies the exit action and crash-loop backoff when it exits, checks its
// health, samples its group's memory and CPU, and keeps its recent output. Every decision is made by
// `#reconcile()` from the current facts and time, so any event (exit, timer, API call) just re-runs it.
import { existsSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { Subject, type Observable } from 'rxjs';
import type { Logger } from 'winston';
import { appDefaults, isPeriodic, type AppSpec } from '../../api/app.js';
import type { Backoff } from '../core/backoff.js';
import { systemClock, type Clock } from '../core/clock.js';
import type { AppState, AppStatus, ProcessRecorder } from './app-status.js';
import { agentEnvForApps, appEnvironment } from './child-env.js';
import { launchChildRun, type Launcher, type Run, type RunExit } from './child-run.js';
import { commandLineAs, hostUserDatabase, lookupExecUser, type ExecUser } from './exec-user.js';
import { CommandLineError, commandLineFor, type CommandLine } from './command-line.js';
import type { HealthCheckResult } from './health-check.js';
import { OutputBuffer, type OutputChunk } from './output-buffer.js';
import { OutputFile } from './output-file.js';
import { readProcessStartTime } from './proc-stat.js';
import { decideAfterExit, defaultRestartBackoff, exitActionFor } from './restart-policy.js';
import { MEMORY_SAMPLES_OVER_LIMIT, RunMonitors, type LaunchIdentity } from './run-monitors.js';
import { firstScheduledStart, nextScheduledStart, windowAt, type WindowState } from './schedule.js';

export type { OutputChunk } from './output-buffer.js';
export type { AppState, AppStatus, ProcessRecorder } from './app-status.js';

export interface AppProcessDeps {
  readonly clock?: Clock;
  readonly logger: Logger;
  readonly recorder?: ProcessRecorder;
  /** When set, output is also appended to <outputDir>/<name>.out (bounded, rotated once). */
  readonly outputDir?: string;
  /** Delay before restart number n of a crash loop; default 1 s doubling to 300 s. */
  readonly restartBackoff?: Backoff;
  /** How often the group's memory and CPU are sampled; default 1000. */
  readonly resourceSampleMs?: number;
  /**
   * Variables read at each launch and added to the spec's env (e.g. APPMESH_PEERS). They live outside
   * the spec on purpose: a value that changes while the app runs must not restart it.
   */
  readonly launchEnv?: () => Readonly<Record<string, string>>;
  /**
   * The agent's variables every launch starts from (agentEnvForApps: no tokens). Default: the default
   * policy applied to this process's environment.
   */
  readonly baseEnv?: Readonly<Record<string, string>>;
  /** Put in every child's environment as APPMESH_AGENT_ID, so leftovers are found without the ledger. */
  readonly agentId?: string;
  /** Starts one run; the real one by default (tests inject runs that misbehave). */
  readonly launcher?: Launcher;
  /** A launch that has neither started nor failed by then is failed; default LAUNCH_TIMEOUT_MS. */
  readonly launchTimeoutMs?: number;
}

/**
 * How long a launch may take to start or fail. Node normally answers within milliseconds; this bound
 * exists so a launch that never settles (as Node did for a NUL byte in env) fails that one app.
 */
export const LAUNCH_TIMEOUT_MS = 10_000;
/** After SIGKILL, how long stop() waits for the exit before it gives up on a process (state D). */
const EXIT_AFTER_KILL_MS = 15_000;

/** The start was abandoned because it did not settle within the launch timeout. */
class LaunchTimeoutError extends Error {
  override readonly name = 'LaunchTimeoutError';
}

/** Timers are re-armed at least this often: setTimeout cannot wait longer than ~24.8 days. */
const MAX_WAKE_MS = 24 * 3600 * 1000;

type StopReason = 'disable' | 'restart' | 'update' | 'window' | 'memory' | 'shutdown';
type Parked = 'standby' | 'failed' | 'removed';

interface CurrentRun {
  readonly run: Run;
  readonly commandLine: CommandLine;
  readonly identity: LaunchIdentity;
  running: boolean;
  stopReason: StopReason | undefined;
  monitors: RunMonitors | undefined;
  /** Settles once the exit has been handled. */
  done: Promise<void>;
}

const isoTime = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

/** The fields whose change means the process must be started again to take effect. */
function launchSettings(spec: AppSpec) {
  return [spec.command, spec.shell, spec.working_dir, spec.env, spec.exec_user];
}

function scheduleSettings(spec: AppSpec) {
  return [spec.start_interval_seconds, spec.cron, spec.start_time, spec.end_time, spec.daily_limitation];
}

export class AppProcess {
  readonly name: string;
  readonly changes: Observable<AppStatus>;
  readonly #changes = new Subject<AppStatus>();
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #backoff: Backoff;
  readonly #sampleMs: number;
  readonly #output: OutputBuffer;
  readonly #file: OutputFile | undefined;
  readonly #recorder: ProcessRecorder | undefined;
  readonly #launchEnv: (() => Readonly<Record<string, string>>) | undefined;
  readonly #background = new Set<Promise<unknown>>();
  readonly #baseEnv: Readonly<Record<string, string>>;
  readonly #agentId: string | undefined;
  readonly #launcher: Launcher;
  readonly #launchTimeoutMs: number;
  #spec: AppSpec;

  #started = false;
  #shutdown: Promise<void> | undefined;
  #operations: Promise<void> = Promise.resolve();
  #enabled: boolean;
  #parked: Parked | undefined;
  #current: CurrentRun | undefined;
  /** Crash-loop backoff: no start before this. */
  #restartAt: number | undefined;
  #failures = 0;
  /** Periodic apps: the first start in the current window, and the next tick. */
  #anchor: number | undefined;
  #nextTick: number | undefined;
  #cancelWake: (() => void) | undefined;

  #state: AppState;
  #nextStart: number | undefined;
  #starts = 0;
  #pid: number | undefined;
  #lastStart: number | undefined;
  #lastExit: number | undefined;
  #returnCode: number | undefined;
  #lastError: string | undefined;
  #checkResult: 'healthy' | 'unhealthy' | 'unknown' = 'unknown';
  #rssBytes: number | undefined;
  #cpuSeconds: number | undefined;
  #published = '';

  constructor(spec: AppSpec, deps: AppProcessDeps) {
    this.name = spec.name;
    this.#spec = spec;
    this.#clock = deps.clock ?? systemClock;
    this.#logger = deps.logger.child({ app: spec.name });
    this.#backoff = deps.restartBackoff ?? defaultRestartBackoff();
    this.#sampleMs = deps.resourceSampleMs ?? 1000;
    this.#recorder = deps.recorder;
    this.#launchEnv = deps.launchEnv;
    this.#baseEnv = deps.baseEnv ?? agentEnvForApps(process.env);
    this.#agentId = deps.agentId;
    this.#launcher = deps.launcher ?? launchChildRun;
    this.#launchTimeoutMs = deps.launchTimeoutMs ?? LAUNCH_TIMEOUT_MS;
    this.#enabled = (spec.status ?? appDefaults.status) !== 0;
    this.#state = this.#enabled ? 'waiting' : 'disabled';
    this.#output = new OutputBuffer(...this.#bufferLimits(spec));
    this.#file =
      deps.outputDir === undefined ? undefined : new OutputFile(deps.outputDir, spec.name, this.#logger);
    this.changes = this.#changes.asObservable();
  }

  get spec(): AppSpec {
    return this.#spec;
  }

  /** Begins supervising per the spec. Idempotent; does nothing after stop(). */
  start(): void {
    if (this.#started || this.#shutdown !== undefined) return;
    this.#started = true;
    this.#reconcile();
  }

  /** Applies a changed spec; a changed command, shell, working_dir or env restarts the process. */
  update(spec: AppSpec): Promise<void> {
    return this.#serially(async () => {
      if (spec.name !== this.name) {
        throw new Error(
          `app "${this.name}" cannot be renamed to "${spec.name}"; delete it and create the new app`,
        );
      }
      const previous = this.#spec;
      if (isDeepStrictEqual(previous, spec)) return;
      this.#spec = spec;
      this.#output.resize(...this.#bufferLimits(spec));
      const wasEnabled = (previous.status ?? appDefaults.status) !== 0;
      const nowEnabled = (spec.status ?? appDefaults.status) !== 0;
      if (wasEnabled !== nowEnabled) {
        this.#enabled = nowEnabled;
        if (nowEnabled) this.#clearExitState();
      }
      if (!isDeepStrictEqual(scheduleSettings(previous), scheduleSettings(spec))) {
        this.#anchor = undefined;
        this.#nextTick = undefined;
      }
      const relaunch = !isDeepStrictEqual(launchSettings(previous), launchSettings(spec));
      if (relaunch) this.#clearExitState();
      const current = this.#current;
      if (relaunch && current !== undefined) {
        this.#logger.info('app spec changed; restarting its process');
        this.#requestStop(current, 'update');
        await current.done;
      }
      this.#reconcile();
      if (!this.#enabled) await this.#current?.done;
    });
  }

  enable(): Promise<void> {
    return this.#serially(() => {
      this.#enabled = true;
      this.#clearExitState();
      this.#reconcile();
      return Promise.resolve();
    });
  }

  disable(): Promise<void> {
    return this.#serially(async () => {
      this.#enabled = false;
      this.#reconcile();
      await this.#current?.done;
    });
  }

  /** Ends the running process (if any) and starts it again now, clearing standby and backoff. */
  restart(): Promise<void> {
    return this.#serially(async () => {
      this.#clearExitState();
      const current = this.#current;
      if (current !== undefined) {
        this.#requestStop(current, 'restart');
        await current.done;
      }
      // For a periodic app this is an extra run now; its schedule carries on.
      this.#restartAt = this.#clock.now();
      this.#reconcile();
    });
  }

  /** Ends the process group (SIGTERM, SIGKILL after the grace) and every timer. Idempotent. */
  stop(): Promise<void> {
    this.#shutdown ??= this.#stopEverything();
    return this.#shutdown;
  }

  status(): AppStatus {
    return {
      name: this.name,
      state: this.#state,
      pid: this.#pid,
      starts: this.#starts,
      last_start_time: isoTime(this.#lastStart),
      last_exit_time: isoTime(this.#lastExit),
      return_code: this.#returnCode,
      health: this.#health(),
      rss_bytes: this.#rssBytes,
      cpu_seconds: this.#cpuSeconds,
      next_start_time: isoTime(this.#nextStart),
      last_error: this.#lastError,
    };
  }

  output(fromOffset?: number): OutputChunk {
    return this.#output.read(fromOffset);
  }

  healthy(): boolean {
    return this.#health() === 'healthy';
  }

  // ---- the decision loop ----

  #reconcile(): void {
    if (!this.#started || this.#shutdown !== undefined) return;
    this.#cancelWake?.();
    this.#cancelWake = undefined;
    const spec = this.#spec;
    const periodic = isPeriodic(spec);
    const now = this.#clock.now();
    const window = windowAt(spec, now);
    if (!window.inside) {
      // Backoff and schedule start afresh when the window opens again.
      this.#restartAt = undefined;
      this.#anchor = undefined;
      this.#nextTick = undefined;
    }
    const current = this.#current;
    if (current !== undefined) {
      if (!this.#enabled) this.#requestStop(current, 'disable');
      else if (!window.inside) this.#requestStop(current, 'window');
      else if (
        periodic &&
        this.#nextTick !== undefined &&
        this.#anchor !== undefined &&
        this.#nextTick <= now
      ) {
        // A tick that falls while the previous run is still going is skipped, not queued.
        this.#nextTick = nextScheduledStart(spec, this.#anchor, now);
      }
    } else if (this.#enabled && window.inside && this.#parked === undefined) {
      if (periodic && this.#nextTick === undefined) {
        this.#anchor = now;
        this.#nextTick = firstScheduledStart(spec, now);
      }
      const backoffOver = this.#restartAt !== undefined && this.#restartAt <= now;
      const due = periodic
        ? backoffOver || (this.#nextTick !== undefined && this.#nextTick <= now)
        : this.#restartAt === undefined || backoffOver;
      if (due) {
        if (periodic && this.#anchor !== undefined)
          this.#nextTick = nextScheduledStart(spec, this.#anchor, now);
        this.#launch(now);
      }
    }
    this.#showState(window);
    const wake = [window.nextChange, this.#restartAt, this.#nextTick].filter(
      (at): at is number => at !== undefined && at > now,
    );
    if (wake.length > 0) this.#wakeAt(Math.min(...wake), now);
    this.#publish();
  }

  #showState(window: WindowState): void {
    const current = this.#current;
    const upcoming = [this.#restartAt, this.#nextTick].filter((at): at is number => at !== undefined);
    if (current !== undefined) {
      this.#state = current.stopReason !== undefined ? 'stopping' : current.running ? 'running' : 'starting';
      this.#nextStart = this.#nextTick;
    } else if (this.#parked === 'removed' || (this.#enabled && this.#parked !== undefined)) {
      this.#state = this.#parked;
      this.#nextStart = undefined;
    } else if (!this.#enabled) {
      this.#state = 'disabled';
      this.#nextStart = undefined;
    } else if (!window.inside) {
      this.#state = 'waiting';
      this.#nextStart = window.nextChange;
    } else {
      this.#state = this.#restartAt !== undefined ? 'backoff' : 'waiting';
      this.#nextStart = upcoming.length > 0 ? Math.min(...upcoming) : undefined;
    }
  }

  #wakeAt(at: number, now: number): void {
    this.#cancelWake = this.#clock.setTimeout(
      () => {
        this.#cancelWake = undefined;
        this.#reconcile();
      },
      Math.min(at - now, MAX_WAKE_MS),
    );
  }

  #clearExitState(): void {
    this.#parked = undefined;
    this.#restartAt = undefined;
    this.#failures = 0;
  }

  // ---- one run ----

  #launch(now: number): void {
    const spec = this.#spec;
    this.#restartAt = undefined;
    let commandLine: CommandLine;
    let run: Run;
    let identity: LaunchIdentity;
    try {
      commandLine = commandLineFor(spec.command, spec.shell);
      identity = this.#identity(spec);
      run = this.#startRun(spec, commandLine, identity);
    } catch (err) {
      // A command only a shell can run, or options execa refuses: retrying cannot help, a corrected spec can.
      const message = (err as Error).message;
      this.#parked = 'failed';
      this.#lastError = err instanceof CommandLineError ? message : `could not start the app: ${message}`;
      this.#logger.error('app cannot be started', { error: this.#lastError });
      return;
    }
    const current: CurrentRun = {
      run,
      commandLine,
      identity,
      running: false,
      stopReason: undefined,
      monitors: undefined,
      done: Promise.resolve(),
    };
    this.#current = current;
    this.#starts += 1;
    this.#pid = run.pid;
    this.#lastStart = now;
    this.#checkResult = 'unknown';
    this.#rssBytes = undefined;
    this.#cpuSeconds = undefined;
    const started = this.#startedWithinBound(run);
    const recorded = this.#track(
      started.then((outcome) => (outcome === 'timeout' ? false : this.#onSpawned(current, outcome))),
    );
    // A launch that times out is abandoned: its exit is the timeout, whatever the run does later.
    const abandoned = started.then((outcome) =>
      outcome === 'timeout'
        ? this.#abandon(run)
        : new Promise<never>(() => {
            /* never: the run's own exit ends it */
          }),
    );
    current.done = Promise.race([run.exited, abandoned])
      .then((exit) => this.#onExit(current, exit, recorded))
      .catch((err: unknown) => {
        this.#logger.error('handling the app process exit failed', { error: String(err) });
      });
  }

  /** Resolves with the run's spawn outcome, or 'timeout' when it has none within the launch bound. */
  #startedWithinBound(run: Run): Promise<boolean | 'timeout'> {
    let cancel: () => void = () => undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      cancel = this.#clock.setTimeout(() => resolve('timeout'), this.#launchTimeoutMs);
    });
    return Promise.race([run.spawned, timedOut]).finally(() => cancel());
  }

  /** Ends an abandoned run if it ever starts, and reports the timeout as its exit. */
  #abandon(run: Run): RunExit {
    void run.terminate();
    void run.spawned.then((started) => (started ? run.terminate() : undefined));
    const seconds = this.#launchTimeoutMs / 1000;
    return {
      code: undefined,
      signal: undefined,
      spawnError: new LaunchTimeoutError(`the process neither started nor failed within ${seconds} s`),
      endedAt: this.#clock.now(),
    };
  }

  /**
   * The environment and user of a launch. Throws (the app goes to `failed`) when exec_user cannot be
   * honoured: the user is gone since the spec was accepted, or the agent cannot switch users.
   */
  #identity(spec: AppSpec): LaunchIdentity {
    let asUser: LaunchIdentity['asUser'] = (commandLine) => commandLine;
    let user: ExecUser | undefined;
    // The user database is read only for apps with an exec_user (most launches need none).
    if (spec.exec_user !== undefined) {
      const db = hostUserDatabase();
      const found = lookupExecUser(spec.exec_user, db);
      if ('problem' in found) throw new Error(found.problem);
      const { user: resolved } = found;
      user = resolved;
      asUser = (commandLine) => commandLineAs(commandLine, resolved, db);
    }
    return {
      env: appEnvironment({
        base: this.#baseEnv,
        user,
        launch: this.#launchEnv?.() ?? {},
        spec: spec.env,
        app: this.name,
        agentId: this.#agentId,
      }),
      asUser,
    };
  }

  #startRun(spec: AppSpec, commandLine: CommandLine, identity: LaunchIdentity): Run {
    return this.#launcher({
      commandLine: identity.asUser(commandLine),
      cwd: spec.working_dir,
      env: identity.env,
      graceMs: (spec.stop_timeout_seconds ?? appDefaults.stopTimeoutSeconds) * 1000,
      clock: this.#clock,
      onLine: (line) => {
        this.#output.append(line);
        this.#file?.writeLine(line);
      },
      onError: (err) =>
        this.#logger.warn('problem while ending the app process group', { error: String(err) }),
    });
  }

  async #onSpawned(current: CurrentRun, started: boolean): Promise<boolean> {
    const { pid } = current.run;
    if (!started || pid === undefined || this.#current !== current) return false;
    // Record first, report running after: whoever sees `running` can rely on the next agent run knowing
    // this pid, so a crash of the agent from then on never leaves an unknown copy behind.
    const recorded = await this.#record(pid);
    if (this.#current !== current) return recorded;
    current.running = true;
    this.#logger.info('app process started', { pid, command: this.#spec.command });
    if (current.stopReason === undefined) {
      current.monitors = this.#monitor(current, pid);
      current.monitors.start();
    }
    this.#reconcile();
    return recorded;
  }

  async #record(pid: number): Promise<boolean> {
    if (this.#recorder === undefined) return false;
    try {
      const startTime = await readProcessStartTime(pid);
      if (startTime === undefined) return false; // already gone: nothing to leave behind
      await this.#recorder.recordStart(this.name, pid, startTime);
      return true;
    } catch (err) {
      this.#logger.warn('could not record the app process', { pid, error: String(err) });
      return false;
    }
  }

  async #onExit(current: CurrentRun, exit: RunExit, recorded: Promise<boolean>): Promise<void> {
    await current.monitors?.stop();
    this.#current = undefined;
    this.#pid = undefined;
    this.#rssBytes = undefined;
    this.#cpuSeconds = undefined;
    this.#lastExit = exit.endedAt;
    this.#returnCode = exit.code;
    const { pid } = current.run;
    if (pid !== undefined && (await recorded) && this.#recorder !== undefined) {
      try {
        await this.#recorder.recordExit(this.name, pid);
      } catch (err) {
        this.#logger.warn('could not record the app process exit', { pid, error: String(err) });
      }
    }
    if (exit.spawnError !== undefined) this.#lastError = this.#describeStartFailure(current, exit.spawnError);
    const reason = current.stopReason;
    const runMs = exit.endedAt - current.run.startedAt;
    if (exit.spawnError instanceof LaunchTimeoutError) {
      // Retrying a launch that hangs would pile up hung launches; a corrected spec or a restart can.
      this.#parked = 'failed';
    } else if (reason === 'memory') {
      this.#failures += 1;
      this.#restartAt = exit.endedAt + this.#backoff(this.#failures);
    } else if (reason === undefined) {
      if (exit.spawnError === undefined && exit.code !== 0) {
        this.#lastError =
          exit.code === undefined
            ? `process was killed by ${exit.signal ?? 'a signal'}`
            : `process exited with code ${exit.code}`;
      }
      this.#applyExitAction(exit, runMs);
    }
    this.#logger.info('app process exited', {
      pid,
      code: exit.code,
      signal: exit.signal,
      stopped_for: reason,
      run_seconds: runMs / 1000,
      next_start_time: isoTime(this.#restartAt),
    });
    this.#reconcile();
  }

  #applyExitAction(exit: RunExit, runMs: number): void {
    const spec = this.#spec;
    const action = exitActionFor(spec, exit.code);
    const decision = decideAfterExit({
      action,
      runMs,
      failures: this.#failures,
      periodic: isPeriodic(spec),
      backoff: this.#backoff,
    });
    switch (decision.kind) {
      case 'restart':
        this.#failures = decision.failures;
        this.#restartAt = exit.endedAt + decision.delayMs;
        break;
      case 'standby':
        this.#parked = exit.spawnError === undefined ? 'standby' : 'failed';
        break;
      case 'next-schedule':
        this.#failures = 0;
        break;
      case 'remove':
        this.#parked = 'removed';
        break;
    }
  }

  #describeStartFailure(current: CurrentRun, error: Error): string {
    if (error instanceof LaunchTimeoutError) {
      return `could not start the app: ${error.message}; it was abandoned (check command, env and working_dir, then restart it)`;
    }
    const dir = this.#spec.working_dir;
    if (dir !== undefined && !existsSync(dir)) {
      return `could not start the app: working_dir ${dir} does not exist; create it or fix working_dir`;
    }
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      return `could not start the app: ${current.commandLine.file} was not found; check the command and PATH`;
    }
    return `could not start the app (${current.commandLine.file}): ${error.message.split('\n')[0] ?? code ?? 'unknown error'}`;
  }

  #requestStop(current: CurrentRun, reason: StopReason): void {
    if (current.stopReason !== undefined) return;
    current.stopReason = reason;
    this.#logger.info('stopping app process', { pid: current.run.pid, reason });
    void current.run.terminate();
  }

  #monitor(current: CurrentRun, pgid: number): RunMonitors {
    // Reports that arrive after the run ended or began stopping no longer describe the app.
    const live = () => this.#current === current && current.stopReason === undefined;
    return new RunMonitors({
      pgid,
      identity: current.identity,
      spec: () => this.#spec,
      sampleMs: this.#sampleMs,
      clock: this.#clock,
      logger: this.#logger,
      events: {
        usage: (usage) => {
          if (!live()) return;
          this.#rssBytes = usage.rssBytes;
          this.#cpuSeconds = usage.cpuSeconds;
        },
        overMemoryLimit: (rssBytes, limitMb) => {
          if (!live()) return;
          const rssMb = Math.round(rssBytes / (1024 * 1024));
          this.#lastError =
            `restarted: the process group used ${rssMb} MB of memory, above resource_limit.memory_mb ` +
            `${limitMb}, for ${MEMORY_SAMPLES_OVER_LIMIT} samples in a row`;
          this.#logger.warn('app over its memory limit; restarting it', { rss_mb: rssMb, limit_mb: limitMb });
          this.#requestStop(current, 'memory');
          this.#reconcile();
        },
        health: (result) => {
          if (live()) this.#setCheckResult(result);
        },
      },
    });
  }

  #setCheckResult({ healthy, detail }: HealthCheckResult): void {
    const result = healthy ? 'healthy' : 'unhealthy';
    if (result !== this.#checkResult) this.#logger.info(`app is ${result}`, detail === '' ? {} : { detail });
    this.#checkResult = result;
    this.#publish();
  }

  /**
   * With a health_check_cmd: its latest result (unknown until the first one of a run). Without one: a
   * long-running app is healthy while running; a periodic app while running or if its last run exited 0.
   */
  #health(): 'healthy' | 'unhealthy' | 'unknown' {
    const running = this.#current?.running === true && this.#current.stopReason === undefined;
    const periodic = isPeriodic(this.#spec);
    if (this.#spec.health_check_cmd !== undefined) {
      return running || periodic ? this.#checkResult : 'unhealthy';
    }
    if (running) return 'healthy';
    if (!periodic) return 'unhealthy';
    if (this.#returnCode === undefined) return 'unknown';
    return this.#returnCode === 0 ? 'healthy' : 'unhealthy';
  }

  // ---- plumbing ----

  #bufferLimits(spec: AppSpec): [number, number] {
    return [
      spec.output_buffer_lines ?? appDefaults.outputBufferLines,
      spec.output_buffer_bytes ?? appDefaults.outputBufferBytes,
    ];
  }

  /** Emits the status when anything but the resource figures changed (those move every sample). */
  #publish(): void {
    const status = this.status();
    const { rss_bytes: _rss, cpu_seconds: _cpu, ...rest } = status;
    const fingerprint = JSON.stringify(rest);
    if (fingerprint === this.#published) return;
    this.#published = fingerprint;
    this.#changes.next(status);
  }

  /** API calls run one after another, so e.g. a restart never interleaves with an update. */
  #serially(operation: () => Promise<void>): Promise<void> {
    const result = this.#operations.then(() => (this.#shutdown === undefined ? operation() : undefined));
    this.#operations = result.catch(() => undefined); // the caller gets the error; the queue goes on
    return result;
  }

  /**
   * Waits for the run's exit, but not forever: a process stuck in the kernel after SIGKILL (state D)
   * must not keep the app, or the agent's shutdown, waiting. Bound: the grace, plus the launch bound
   * (a run still starting), plus EXIT_AFTER_KILL_MS.
   */
  async #boundedExit(current: CurrentRun): Promise<void> {
    const graceMs = (this.#spec.stop_timeout_seconds ?? appDefaults.stopTimeoutSeconds) * 1000;
    let cancel: () => void = () => undefined;
    const gaveUp = new Promise<'gave-up'>((resolve) => {
      cancel = this.#clock.setTimeout(
        () => resolve('gave-up'),
        graceMs + this.#launchTimeoutMs + EXIT_AFTER_KILL_MS,
      );
    });
    const outcome = await Promise.race([current.done.then(() => 'exited' as const), gaveUp]);
    cancel();
    if (outcome === 'gave-up') {
      this.#logger.error('the app process did not exit after SIGKILL; giving up on it', {
        pid: current.run.pid,
      });
    }
  }

  #track<T>(promise: Promise<T>): Promise<T> {
    this.#background.add(promise);
    const forget = () => this.#background.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  async #stopEverything(): Promise<void> {
    this.#cancelWake?.();
    this.#cancelWake = undefined;
    const current = this.#current;
    if (current !== undefined) {
      this.#requestStop(current, 'shutdown');
      this.#state = 'stopping';
      this.#publish();
      await this.#boundedExit(current);
    }
    await this.#operations;
    while (this.#background.size > 0) await Promise.all([...this.#background]);
    await this.#file?.close();
    this.#state = this.#parked === 'removed' ? 'removed' : 'disabled';
    this.#nextStart = undefined;
    this.#publish();
    this.#changes.complete();
  }
}
