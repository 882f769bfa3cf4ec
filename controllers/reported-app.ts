// The `apps` entries of a node report: what an agent says about each app it should run, and how readers
// (the CLI's get/describe/--wait, the web UI) read them back. Kept apart from NodeReporter so the
// stand-alone agent, which builds the same summary for its UI, loads no Consul code for it.
import { isPeriodic, type AppSpec } from '../api/app.js';
import { appIsReady, type AppStatus } from '../src/process/app-status.js';

/**
 * One app in a node report's `apps`: its owner, state and health, and `ready` (appIsReady: running and
 * healthy, or for a periodic app, its last run exited 0 and the next is scheduled). Readers count
 * `ready` as running and passing, so a periodic task between runs is not "missing".
 */
export interface ReportedApp {
  readonly owner: string;
  readonly state: string;
  readonly health: string;
  readonly ready: boolean;
}

/** The report entry of an app the agent should run; `status` is undefined before the supervisor has it. */
export function reportedApp(owner: string, spec: AppSpec, status: AppStatus | undefined): ReportedApp {
  if (status === undefined) return { owner, state: 'pending', health: 'unknown', ready: false };
  return { owner, state: status.state, health: status.health, ready: appIsReady(status, isPeriodic(spec)) };
}

/**
 * Running and passing replicas of a task among node-report `apps` entries (one per node): a ready replica
 * is both, one running but not ready is running only. A local app of the same name (owner other than
 * `cluster`) is not a replica. The one count the CLI, `--wait` and the web UI share.
 */
export function countReplicas(entries: Iterable<unknown>): { running: number; passing: number } {
  let running = 0;
  let passing = 0;
  for (const entry of entries) {
    const replica = readReportedApp(entry);
    if (replica === undefined || (replica.owner !== undefined && replica.owner !== 'cluster')) continue;
    if (replica.ready) passing++;
    if (replica.ready || replica.state === 'running') running++;
  }
  return { running, passing };
}

/**
 * Reads one entry of a node report's `apps` as any agent version wrote it; undefined for other shapes.
 * Without `ready` (agents before it existed) a replica is ready when it is running and healthy.
 */
export function readReportedApp(
  value: unknown,
): (Omit<ReportedApp, 'owner'> & { owner?: string }) | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const entry = value as Record<string, unknown>;
  const text = (field: string): string | undefined => {
    const found = entry[field];
    return typeof found === 'string' ? found : undefined;
  };
  const state = text('state') ?? 'unknown';
  const health = text('health') ?? 'unknown';
  const owner = text('owner');
  const ready = typeof entry.ready === 'boolean' ? entry.ready : state === 'running' && health === 'healthy';
  return { ...(owner === undefined ? {} : { owner }), state, health, ready };
}
