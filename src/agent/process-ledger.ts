// The record of this agent's live children (<dataDir>/processes.json: app, pid, start time). After a
// crash or `kill -9` of the agent, the next start reads it and terminates what the last run left behind
// (matching the start time, so a reused pid is never touched) before it starts anything.
import { join } from 'node:path';
import { readFileIfExists, replaceFileSync } from '../core/atomic-file.js';
import { reapLeftovers, type ProcessRecorder } from '../process/index.js';
import type { Logger } from '../runtime/logger.js';

interface LedgerEntry {
  readonly app: string;
  readonly pid: number;
  readonly startTime: number;
}

function isLedgerEntry(value: unknown): value is LedgerEntry {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v['app'] === 'string' && Number.isInteger(v['pid']) && Number.isInteger(v['startTime']);
}

export class ProcessLedger implements ProcessRecorder {
  readonly #path: string;
  readonly #entries = new Map<number, LedgerEntry>();

  constructor(
    dataDir: string,
    private readonly logger: Logger,
  ) {
    this.#path = join(dataDir, 'processes.json');
  }

  /** Terminate the previous run's leftovers, then start an empty ledger. Call before any app starts. */
  async reapPreviousRun(graceMs = 5_000): Promise<void> {
    const text = await readFileIfExists(this.#path);
    if (text !== undefined) {
      let parsed: unknown = [];
      try {
        parsed = JSON.parse(text);
      } catch {
        this.logger.warn('process ledger is not valid JSON; nothing to reap', { path: this.#path });
      }
      const records = Array.isArray(parsed) ? parsed.filter(isLedgerEntry) : [];
      for (const outcome of await reapLeftovers(records, graceMs)) {
        if (outcome.outcome !== 'gone')
          this.logger.warn('ended a process left by the previous agent run', outcome);
      }
    }
    await this.#persist();
  }

  recordStart(app: string, pid: number, startTime: number): Promise<void> {
    this.#entries.set(pid, { app, pid, startTime });
    return this.#persist();
  }

  recordExit(_app: string, pid: number): Promise<void> {
    this.#entries.delete(pid);
    return this.#persist();
  }

  /**
   * Synchronous and without fsync (replaceFileSync): it sits between spawn and `running`, and the ledger
   * only matters while the host is up: after a reboot no child of this agent survives, and a stale entry
   * is never acted on because the start time must match too.
   */
  #persist(): Promise<void> {
    try {
      replaceFileSync(this.#path, `${JSON.stringify([...this.#entries.values()], null, 2)}\n`);
      return Promise.resolve();
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      this.logger.error('could not write the process ledger', { path: this.#path, error: error.message });
      return Promise.reject(error);
    }
  }
}
