// The record of this agent's live children (<dataDir>/processes.json: app, pid, start time) and the
// agent's id (<dataDir>/agent-id), which every child carries in its environment. After a crash or
// `kill -9` of the agent, the next start terminates what the last run left behind before it starts
// anything: the ledger's records (matching the start time, so a reused pid is never touched) and every
// process /proc shows with this agent's id, so a corrupt, truncated or missing ledger loses nothing.
import { randomUUID } from 'node:crypto';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { readFileIfExists, replaceFileSync, writeFileAtomic } from '../core/atomic-file.js';
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

const AGENT_ID = /^[A-Za-z0-9-]{8,64}$/;

/** The id in <dataDir>/agent-id, created on first start. A damaged file is replaced (and said so). */
async function agentIdOf(dataDir: string, logger: Logger): Promise<string> {
  const path = join(dataDir, 'agent-id');
  const text = (await readFileIfExists(path))?.trim();
  if (text !== undefined && AGENT_ID.test(text)) return text;
  if (text !== undefined) {
    logger.error(
      'agent-id is damaged; a new id is made, so leftovers of earlier runs are found only through the ledger',
      {
        path,
      },
    );
  }
  const id = randomUUID();
  await writeFileAtomic(path, `${id}\n`);
  return id;
}

export class ProcessLedger implements ProcessRecorder {
  readonly #path: string;
  readonly #entries = new Map<number, LedgerEntry>();

  private constructor(
    dataDir: string,
    /** Put in every child's environment as APPMESH_AGENT_ID. */
    readonly agentId: string,
    private readonly logger: Logger,
  ) {
    this.#path = join(dataDir, 'processes.json');
  }

  static async open(dataDir: string, logger: Logger): Promise<ProcessLedger> {
    return new ProcessLedger(dataDir, await agentIdOf(dataDir, logger), logger);
  }

  /** Terminate the previous run's leftovers, then start an empty ledger. Call before any app starts. */
  async reapPreviousRun(graceMs = 5_000): Promise<void> {
    const records = await this.#readRecords();
    for (const outcome of await reapLeftovers(records, { agentId: this.agentId, graceMs })) {
      if (outcome.outcome !== 'gone')
        this.logger.warn('ended a process left by the previous agent run', outcome);
    }
    await this.#persist();
  }

  /** The ledger's records; a damaged ledger is kept beside it for a look and counts as empty. */
  async #readRecords(): Promise<LedgerEntry[]> {
    const text = await readFileIfExists(this.#path);
    if (text === undefined) return [];
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!Array.isArray(parsed)) {
      const kept = `${this.#path}.damaged`;
      await rename(this.#path, kept).catch(() => undefined);
      this.logger.warn('process ledger is damaged; leftovers are found by their marker in /proc instead', {
        path: this.#path,
        kept,
      });
      return [];
    }
    return parsed.filter(isLedgerEntry);
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
