// `apply --wait`: follows the applied tasks on the cluster watch until each has its desired replicas
// placed, running and passing their checks, or the timeout passes (an error naming what is missing).
// Progress is a line per task: redrawn in place on a terminal, printed when it changes otherwise.
// A replica counts as running and passing when its node reports it `ready` (taskView's count), so a periodic
// task whose last run exited 0 and whose next run is scheduled is done, although its process is down between
// runs.
import type { Observable } from 'rxjs';
import type { ClusterState } from './cluster-state.js';
import { taskIsReady, taskView, type TaskView } from './cluster-views.js';

export interface WaitTarget {
  readonly name: string;
  readonly replication: number;
}

/** Where progress lines go. */
export interface ProgressSink {
  show(lines: readonly string[]): void;
}

/** One line of progress: counts, and the scheduler's first message when replicas cannot be placed. */
export function progressLine(target: WaitTarget, view: TaskView | undefined): string {
  const name = `clustertask/${target.name}`;
  const want = target.replication;
  if (view === undefined) return `${name}: not found in Consul`;
  if (taskIsReady(view, want)) return `${name}: ready (${want}/${want} running and passing)`;
  if (view.observedDesired !== want) return `${name}: waiting for the scheduler to see replication ${want}`;
  const counts = `scheduled ${view.scheduled}/${want}, running ${view.running}/${want}, passing ${view.passing}/${want}`;
  const message = view.messages[0];
  return message === undefined ? `${name}: ${counts}` : `${name}: ${counts} (${message})`;
}

/** Redraws the block of lines in place (cursor up, clear line), as kubectl rollout status does. */
export function terminalSink(stream: NodeJS.WriteStream): ProgressSink {
  let shown = 0;
  return {
    show(lines) {
      const up = shown > 0 ? `\x1b[${shown}A` : '';
      stream.write(up + lines.map((line) => `\x1b[2K${line}\n`).join(''));
      shown = lines.length;
    },
  };
}

/** Prints a task's line only when it changed, so logs stay readable. */
export function plainSink(write: (line: string) => void): ProgressSink {
  const last: string[] = [];
  return {
    show(lines) {
      lines.forEach((line, index) => {
        if (last[index] !== line) write(line);
        last[index] = line;
      });
    },
  };
}

/** Resolves when every target is ready; rejects after `timeoutMs` naming each target still missing. */
export function waitForTasks(
  states: Observable<ClusterState>,
  targets: readonly WaitTarget[],
  timeoutMs: number,
  sink: ProgressSink,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let latest: readonly string[] = targets.map((target) => progressLine(target, undefined));
    const timer = setTimeout(() => {
      subscription.unsubscribe();
      const missing = targets
        .map((target, index) => ({ target, line: latest[index] ?? '' }))
        .filter(({ line }) => !line.includes(': ready ('))
        .map(({ line }) => line);
      reject(new Error(`timed out after ${formatSeconds(timeoutMs)} waiting for ${missing.join('; ')}`));
    }, timeoutMs);
    const subscription = states.subscribe({
      next(state) {
        const views = targets.map((target) => taskView(state, target.name));
        latest = targets.map((target, index) => progressLine(target, views[index]));
        sink.show(latest);
        if (
          targets.every(
            (target, index) => views[index] !== undefined && taskIsReady(views[index], target.replication),
          )
        ) {
          clearTimeout(timer);
          // The subscription may not be assigned yet when the first state arrives synchronously.
          queueMicrotask(() => subscription.unsubscribe());
          resolve();
        }
      },
      error(err: unknown) {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    });
  });
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(1)}s`;
}
