// Runs an async task again and again, `intervalMs` after the previous run finished (so runs never
// overlap), until stopped. Used for health checks and resource sampling; stop() aborts the run in
// flight and waits for it, so nothing outlives the owner.
import type { Clock } from '../core/clock.js';

export class PeriodicTask {
  readonly #abort = new AbortController();
  #cancelTimer: (() => void) | undefined;
  #inFlight: Promise<void> | undefined;
  #stopped = false;

  constructor(
    private readonly task: (signal: AbortSignal) => Promise<void>,
    /** Read before each wait, so a changed setting applies from the next run on. */
    private readonly intervalMs: () => number,
    private readonly clock: Clock,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Runs the task after `delayMs` (default at once), then every interval. */
  start(delayMs = 0): void {
    if (this.#stopped || this.#cancelTimer !== undefined || this.#inFlight !== undefined) return;
    this.#schedule(delayMs);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    this.#abort.abort(new Error('periodic task stopped'));
    await this.#inFlight;
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#cancelTimer = this.clock.setTimeout(() => {
      this.#cancelTimer = undefined;
      this.#inFlight = this.#runOnce();
    }, delayMs);
  }

  async #runOnce(): Promise<void> {
    try {
      await this.task(this.#abort.signal);
    } catch (err) {
      if (!this.#stopped) this.onError(err);
    } finally {
      this.#inFlight = undefined;
      this.#schedule(this.intervalMs());
    }
  }
}
