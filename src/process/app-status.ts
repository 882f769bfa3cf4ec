// What a supervised app looks like from outside: its state and status as the REST API shows them, and
// the hook through which its live processes are persisted.

export type AppState =
  'disabled' | 'waiting' | 'starting' | 'running' | 'stopping' | 'backoff' | 'standby' | 'failed' | 'removed';

export interface AppStatus {
  readonly name: string;
  readonly state: AppState;
  readonly pid: number | undefined;
  readonly starts: number;
  readonly last_start_time: string | undefined;
  readonly last_exit_time: string | undefined;
  readonly return_code: number | undefined;
  readonly health: 'healthy' | 'unhealthy' | 'unknown';
  readonly rss_bytes: number | undefined;
  readonly cpu_seconds: number | undefined;
  readonly next_start_time: string | undefined;
  readonly last_error: string | undefined;
}

/** Persistence of live children, so the next agent run can end what this one leaves behind. */
export interface ProcessRecorder {
  /** `startTime` is /proc/<pid>/stat's starttime (clock ticks since boot). */
  recordStart(app: string, pid: number, startTime: number): Promise<void> | void;
  recordExit(app: string, pid: number): Promise<void> | void;
}

/**
 * Whether an app is ready: what `passing` counts in task status, `appmesh get tasks` and `apply --wait`.
 * - A long-running app: running and healthy.
 * - A periodic app is down between runs by design, so "running" cannot be the test. It is ready when a
 *   run has finished with exit code 0 and it is either running again or waiting with its next run
 *   scheduled (and its health check, if it has one, does not fail). Before its first run has finished it
 *   is not ready: nothing has shown that the job works yet.
 */
export function appIsReady(
  status: Pick<AppStatus, 'state' | 'health' | 'return_code' | 'last_exit_time' | 'next_start_time'>,
  periodic: boolean,
): boolean {
  if (!periodic) return status.state === 'running' && status.health === 'healthy';
  const lastRunSucceeded = status.last_exit_time !== undefined && status.return_code === 0;
  const scheduled =
    status.state === 'running' || (status.state === 'waiting' && status.next_start_time !== undefined);
  return lastRunSucceeded && scheduled && status.health !== 'unhealthy';
}
