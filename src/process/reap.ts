// Ends what a previous agent run left behind (after a crash or kill -9 of the agent, its detached app
// groups live on). A record is trusted only while its pid still has the recorded start time, so a pid
// the kernel has since given to an unrelated process is never signalled.
import { systemClock } from '../core/clock.js';
import { readProcessStartTime } from './proc-stat.js';
import { terminateGroup } from './process-group.js';

export interface LeftoverRecord {
  readonly app: string;
  readonly pid: number;
  /** /proc/<pid>/stat starttime recorded when the process started. */
  readonly startTime: number;
}

export type ReapOutcome = 'terminated' | 'killed' | 'gone' | 'pid-reused';

export interface ReapResult {
  app: string;
  pid: number;
  outcome: ReapOutcome;
}

async function reapOne(record: LeftoverRecord, graceMs: number): Promise<ReapResult> {
  const { app, pid } = record;
  const startTime = await readProcessStartTime(pid);
  if (startTime === undefined) return { app, pid, outcome: 'gone' };
  if (startTime !== record.startTime) return { app, pid, outcome: 'pid-reused' };
  // The leader's identity is checked above; it leads its own group, so the group is the app's.
  const outcome = await terminateGroup({ pgid: pid, graceMs, clock: systemClock });
  return { app, pid, outcome };
}

/**
 * Terminates leftovers of a previous agent run: for each record whose pid is alive AND whose start time
 * matches (never touch a reused pid), SIGTERM its group, SIGKILL after graceMs. Returns what it did per record.
 */
export function reapLeftovers(records: readonly LeftoverRecord[], graceMs = 10_000): Promise<ReapResult[]> {
  return Promise.all(records.map((record) => reapOne(record, graceMs)));
}
