// One run of an app's process: launched with execa as the leader of its own process group (so the whole
// group can be signalled), stdout and stderr split into lines as they arrive, and an exit that is only
// reported once the leader is gone, what it left in its group has been ended and its output drained.
import type { Readable } from 'node:stream';
import { execa } from 'execa';
import type { Clock } from '../core/clock.js';
import type { CommandLine } from './command-line.js';
import { LineSplitter } from './line-splitter.js';
import { terminateGroup } from './process-group.js';

/** How long to wait for output still buffered in the pipes once the group is gone. */
const DRAIN_MS = 2_000;

export interface RunExit {
  /** Exit code; undefined when killed by a signal or never started. */
  readonly code: number | undefined;
  readonly signal: string | undefined;
  /** Set when the process could not be started at all (e.g. ENOENT). */
  readonly spawnError: Error | undefined;
  /** When the leader exited (or the start failed). */
  readonly endedAt: number;
}

export interface ChildRunOptions {
  readonly commandLine: CommandLine;
  readonly cwd: string | undefined;
  /** The whole environment: nothing of the agent's is inherited beyond it (see child-env.ts). */
  readonly env: Readonly<Record<string, string>>;
  /** Grace between SIGTERM and SIGKILL, also for what the leader leaves behind when it exits. */
  readonly graceMs: number;
  readonly clock: Clock;
  /** Each line of stdout or stderr, in arrival order. */
  readonly onLine: (line: string) => void;
  /** A failure to signal the group (e.g. EPERM) or inside execa; the run still reports its exit. */
  readonly onError: (err: unknown) => void;
}

/** One run as its supervisor sees it; ChildRun is the real one, tests inject others. */
export interface Run {
  readonly startedAt: number;
  readonly pid: number | undefined;
  /** True once the process is running; false if it could not be started. */
  readonly spawned: Promise<boolean>;
  readonly exited: Promise<RunExit>;
  terminate(): Promise<RunExit>;
}

export type Launcher = (options: ChildRunOptions) => Run;

export const launchChildRun: Launcher = (options) => new ChildRun(options);

function closed(stream: Readable): Promise<void> {
  return stream.closed ? Promise.resolve() : new Promise((resolve) => stream.once('close', () => resolve()));
}

export class ChildRun implements Run {
  readonly startedAt: number;
  /** Undefined when the start failed before a process existed. */
  readonly pid: number | undefined;
  /** True once the process is running; false if it could not be started. */
  readonly spawned: Promise<boolean>;
  readonly exited: Promise<RunExit>;
  #leaderExited = false;
  #termination: Promise<unknown> | undefined;

  constructor(private readonly options: ChildRunOptions) {
    const { commandLine, clock } = options;
    this.startedAt = clock.now();
    const subprocess = execa(commandLine.file, [...commandLine.args], {
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      env: options.env,
      extendEnv: false,
      detached: true,
      cleanup: false,
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'pipe',
      buffer: false,
      reject: false,
      forceKillAfterDelay: false,
    });
    this.pid = subprocess.pid;
    const streams = [subprocess.stdout, subprocess.stderr];
    for (const stream of streams) {
      const splitter = new LineSplitter(options.onLine);
      stream.on('data', (chunk: Buffer) => splitter.write(chunk));
      stream.once('end', () => splitter.end());
    }

    // The executors run synchronously, so both resolvers are set before any event can fire.
    let settleSpawn: (started: boolean) => void = () => undefined;
    let resolveExit: (exit: RunExit) => void = () => undefined;
    this.spawned = new Promise((resolve) => (settleSpawn = resolve));
    this.exited = new Promise((resolve) => (resolveExit = resolve));
    let spawnSettled = false;
    const failedToStart = (error: Error) => {
      if (spawnSettled) return;
      spawnSettled = true;
      settleSpawn(false);
      resolveExit({ code: undefined, signal: undefined, spawnError: error, endedAt: clock.now() });
    };
    subprocess.once('spawn', () => {
      if (spawnSettled) return;
      spawnSettled = true;
      settleSpawn(true);
    });
    // Errors after a successful start (a failed kill) are execa's to handle; only a failed start ends the run.
    subprocess.once('error', failedToStart);
    subprocess.once('exit', (code, signal) => {
      this.#leaderExited = true;
      const endedAt = clock.now();
      const report = () =>
        resolveExit({ code: code ?? undefined, signal: signal ?? undefined, spawnError: undefined, endedAt });
      // The exit is reported even if ending the group failed; the failure goes to onError.
      this.#endGroupAndDrain(streams).then(report, (err: unknown) => {
        options.onError(err);
        report();
      });
    });
    // With reject: false execa resolves even for failed runs, and the events above carry the outcome,
    // except when Node refuses the options (e.g. a NUL byte in env or cwd): then no event fires at all
    // and this settlement is the only sign, so it fails the start (once, if nothing else did).
    subprocess.then(
      (result) => {
        if (!spawnSettled) {
          const cause: unknown = (result as { cause?: unknown }).cause;
          failedToStart(cause instanceof Error ? cause : new Error(result.shortMessage ?? 'could not start'));
        }
      },
      (err: unknown) => {
        options.onError(err);
        failedToStart(err instanceof Error ? err : new Error(String(err)));
      },
    );
  }

  /** SIGTERM to the group, SIGKILL after the grace period; resolves when the run has exited. Idempotent. */
  terminate(): Promise<RunExit> {
    if (this.pid !== undefined && this.#termination === undefined) this.#termination = this.#terminateGroup();
    return this.exited;
  }

  #terminateGroup(): Promise<unknown> {
    const { pid } = this;
    if (pid === undefined) return Promise.resolve();
    return terminateGroup({
      pgid: pid,
      graceMs: this.options.graceMs,
      clock: this.options.clock,
      leaderGone: () => this.#leaderExited,
    }).catch(this.options.onError);
  }

  async #endGroupAndDrain(streams: readonly Readable[]): Promise<void> {
    // Whatever the leader left in its group is ended too, so restarts do not pile up orphans.
    this.#termination ??= this.#terminateGroup();
    await this.#termination;
    let cancelTimer: () => void = () => undefined;
    const drained = Promise.all(streams.map(closed));
    const timedOut = new Promise<void>((resolve) => {
      cancelTimer = this.options.clock.setTimeout(resolve, DRAIN_MS);
    });
    await Promise.race([drained, timedOut]);
    cancelTimer();
    // A process outside the group (it called setsid) may still hold the pipes; stop reading them.
    for (const stream of streams) stream.destroy();
  }
}
