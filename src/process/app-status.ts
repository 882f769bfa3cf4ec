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
