// Runs an app's health_check_cmd once: healthy when it exits 0 within the timeout. The check runs in
// its own process group, which is killed on timeout or abort, so a hung check leaves nothing behind.
import { execa } from 'execa';
import type { Clock } from '../core/clock.js';
import type { CommandLine } from './command-line.js';
import { signalGroup } from './process-group.js';

export interface HealthCheckOptions {
  readonly commandLine: CommandLine;
  readonly cwd: string | undefined;
  /** The whole environment (the app's, see child-env.ts); nothing else is inherited. */
  readonly env: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly clock: Clock;
  /** Aborting kills the check (the app is stopping). */
  readonly signal: AbortSignal;
}

export interface HealthCheckResult {
  readonly healthy: boolean;
  /** Why it is unhealthy (exit code, timeout, could not start); empty when healthy. */
  readonly detail: string;
}

export async function runHealthCheck(options: HealthCheckOptions): Promise<HealthCheckResult> {
  const { commandLine, clock, signal } = options;
  const check = execa(commandLine.file, [...commandLine.args], {
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    env: options.env,
    extendEnv: false,
    detached: true,
    cleanup: false,
    stdio: 'ignore',
    reject: false,
    forceKillAfterDelay: false,
  });
  const { pid } = check;
  let timedOut = false;
  const kill = () => {
    if (pid !== undefined) signalGroup(pid, 'SIGKILL');
  };
  const onAbort = () => kill();
  signal.addEventListener('abort', onAbort, { once: true });
  const cancelTimer = clock.setTimeout(() => {
    timedOut = true;
    kill();
  }, options.timeoutMs);
  try {
    const result = await check;
    // The check's own children must not outlive it.
    kill();
    if (timedOut) return { healthy: false, detail: `timed out after ${options.timeoutMs / 1000} s` };
    if (result.exitCode === 0) return { healthy: true, detail: '' };
    if (result.exitCode !== undefined)
      return { healthy: false, detail: `exited with code ${result.exitCode}` };
    return {
      healthy: false,
      detail: result.signal ? `killed by ${result.signal}` : (result.shortMessage ?? 'could not run'),
    };
  } finally {
    cancelTimer();
    signal.removeEventListener('abort', onAbort);
  }
}
