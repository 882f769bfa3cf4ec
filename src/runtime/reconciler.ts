// The one interface every controller implements: make the world match the desired state for one key.
// Level-triggered like controller-runtime's reconcile.Reconciler: a key, never an event; a thrown error
// means "retry with backoff", a TerminalError means "bad input, report it and do not retry".

/** Nothing (done until the key changes again) or a request to run again after a delay. */
export type ReconcileResult = void | { readonly requeueAfterMs: number };

export interface Reconciler<K extends string = string> {
  /**
   * Reads the latest state for `key` from caches and converges it. Must be idempotent. `signal` aborts
   * when the controller stops and its grace period is over; long work should pass it on.
   */
  reconcile(key: K, signal: AbortSignal): Promise<ReconcileResult>;
}

/** Bad input: logged and counted, never retried. The key runs again only when it is enqueued anew. */
export class TerminalError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TerminalError';
  }
}

/** True for a TerminalError, also when it is wrapped as the `cause` of another error (like Go's errors.Is). */
export function isTerminalError(error: unknown): boolean {
  const seen = new Set<unknown>();
  let current = error;
  while (current instanceof Error && !seen.has(current)) {
    if (current instanceof TerminalError) return true;
    seen.add(current);
    current = current.cause;
  }
  return false;
}
