// Ends what a previous agent run left behind (after a crash or kill -9 of the agent, its detached app
// groups live on). Two sources, so one lost or corrupt file cannot leave copies running: the ledger's
// records (trusted only while the pid still has the recorded start time, so a reused pid is never
// signalled), and a /proc scan for processes carrying this agent's marker in their environment
// (APPMESH_AGENT_ID, which every child gets at launch; see child-env.ts).
import { systemClock } from '../core/clock.js';
import { MARKER_AGENT_ID, MARKER_APP } from './child-env.js';
import { readProcessEnviron, readProcessStartTime, scanProcesses } from './proc-stat.js';
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
  /** The group leader's pid (= the process group id). */
  pid: number;
  outcome: ReapOutcome;
  /** How it was found: in the ledger, or by its marker in /proc. */
  foundBy: 'ledger' | 'marker';
}

export interface MarkedProcess {
  readonly pid: number;
  readonly pgrp: number;
  readonly app: string | undefined;
}

/**
 * Live processes whose environment holds `APPMESH_AGENT_ID=<agentId>` and that started no later than
 * `startedBy` (default: this agent process's start, since what this run starts is never a leftover).
 * The agent's own process group is skipped.
 */
export async function findMarkedProcesses(agentId: string, startedBy?: number): Promise<MarkedProcess[]> {
  const marker = `${MARKER_AGENT_ID}=${agentId}`;
  const stats = await scanProcesses();
  const own = stats.find((stat) => stat.pid === process.pid);
  const latest = startedBy ?? own?.startTime ?? Number.MAX_SAFE_INTEGER;
  const found: MarkedProcess[] = [];
  // One at a time: a start-up scan of a few hundred small files, not worth a burst of open descriptors.
  for (const stat of stats) {
    if (stat.pid === process.pid || stat.pgrp === own?.pgrp || stat.startTime > latest) continue;
    const environ = await readProcessEnviron(stat.pid);
    if (environ === undefined) continue;
    const variables = environ.split('\0');
    if (!variables.includes(marker)) continue;
    const app = variables.find((v) => v.startsWith(`${MARKER_APP}=`))?.slice(MARKER_APP.length + 1);
    found.push({ pid: stat.pid, pgrp: stat.pgrp, app });
  }
  return found;
}

/**
 * Terminates every leftover of a previous agent run: each ledger record whose pid is alive AND has the
 * recorded start time, and each group holding a process with this agent's marker. SIGTERM to the group,
 * SIGKILL after graceMs. Returns what it did per group.
 */
export async function reapLeftovers(
  records: readonly LeftoverRecord[],
  options: {
    readonly agentId?: string;
    readonly graceMs?: number;
    /** See findMarkedProcesses; tests raise it to reap processes they started themselves. */
    readonly markedStartedBy?: number;
  } = {},
): Promise<ReapResult[]> {
  const graceMs = options.graceMs ?? 10_000;
  const groups = new Map<number, { app: string; foundBy: ReapResult['foundBy'] }>();
  const results: ReapResult[] = [];
  for (const record of records) {
    const startTime = await readProcessStartTime(record.pid);
    if (startTime === undefined || startTime !== record.startTime) {
      const outcome = startTime === undefined ? 'gone' : 'pid-reused';
      results.push({ app: record.app, pid: record.pid, outcome, foundBy: 'ledger' });
    } else {
      // The leader's identity is checked above; it leads its own group, so the group is the app's.
      groups.set(record.pid, { app: record.app, foundBy: 'ledger' });
    }
  }
  if (options.agentId !== undefined) {
    for (const marked of await findMarkedProcesses(options.agentId, options.markedStartedBy)) {
      if (!groups.has(marked.pgrp)) groups.set(marked.pgrp, { app: marked.app ?? '?', foundBy: 'marker' });
    }
  }
  const ended = await Promise.all(
    [...groups].map(async ([pgid, { app, foundBy }]) => ({
      app,
      pid: pgid,
      foundBy,
      outcome: await terminateGroup({ pgid, graceMs, clock: systemClock }),
    })),
  );
  return [...results, ...ended];
}
