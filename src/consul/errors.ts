// Typed failures of Consul calls. Messages name the address and endpoint and never contain the token.

export class ConsulError extends Error {
  override name = 'ConsulError';
}

/** Consul could not be reached at all (refused, reset, timed out, DNS). */
export class ConsulUnavailableError extends ConsulError {
  override name = 'ConsulUnavailableError';
  constructor(
    readonly address: string,
    readonly endpoint: string,
    readonly causeCode: string,
  ) {
    super(
      `consul at ${address} is unavailable (${causeCode} on ${endpoint}); is the Consul agent running there?`,
    );
  }
}

/**
 * Consul's TLS listener and our TLS settings disagree (untrusted certificate, wrong name, a client
 * certificate it requires). A configuration problem: waiting will not fix it, so the agent refuses to
 * start on it. A subclass of unavailable so that, met later at run time, it is retried like an outage.
 */
export class ConsulTlsError extends ConsulUnavailableError {
  override name = 'ConsulTlsError';
  constructor(address: string, endpoint: string, causeCode: string, problem: string, remedy: string) {
    super(address, endpoint, causeCode);
    this.message = `consul at ${address}: ${problem} (${causeCode}); ${remedy}`;
  }
}

/** Consul answered with an unexpected HTTP status. */
export class ConsulHttpError extends ConsulError {
  override name = 'ConsulHttpError';
  constructor(
    readonly status: number,
    readonly method: string,
    readonly endpoint: string,
    readonly consulMessage: string,
  ) {
    super(`consul ${method} ${endpoint} failed with HTTP ${status}: ${consulMessage || '(no message)'}`);
  }
}

/** 403: the ACL token lacks a permission (or is unknown). */
export class ConsulPermissionDeniedError extends ConsulHttpError {
  override name = 'ConsulPermissionDeniedError';
  constructor(method: string, endpoint: string, consulMessage: string) {
    super(403, method, endpoint, consulMessage);
    this.message = `consul denied ${method} ${endpoint}: ${consulMessage || 'permission denied'}; check the ACL token's policy`;
  }
}

/** A check-and-set write lost: someone else changed the key since `expectedIndex`. */
export class CasConflictError extends ConsulError {
  override name = 'CasConflictError';
  constructor(
    readonly key: string,
    readonly expectedIndex: number,
  ) {
    super(`key ${key} changed since index ${expectedIndex}; re-read it and try again`);
  }
}

export interface TxnFailure {
  readonly opIndex: number;
  readonly what: string;
}

/** A `/v1/txn` was rolled back (409); nothing in it was written. */
export class TxnRollbackError extends ConsulError {
  override name = 'TxnRollbackError';
  constructor(readonly failures: readonly TxnFailure[]) {
    super(
      `consul rolled back the transaction: ${failures.map((f) => `op ${f.opIndex}: ${f.what}`).join('; ')}`,
    );
  }
}

/** The session no longer exists (renew answered 404, or it was invalidated). */
export class SessionExpiredError extends ConsulError {
  override name = 'SessionExpiredError';
  constructor(readonly sessionId: string) {
    super(`consul session ${sessionId} has expired or was destroyed`);
  }
}
