// SessionManager: holds this agent's one Consul session (Behavior delete, bound to the agent's liveness
// check and serfHealth, TTL as the backstop) and keeps it alive: renews at TTL/3, replaces a lost session
// at once, and destroys it on stop so the node key and the leader key vanish immediately.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import * as t from 'io-ts';
import { isLeft } from 'fp-ts/lib/Either.js';
import { BehaviorSubject, distinctUntilChanged, type Observable } from 'rxjs';
import { decodeJson } from '../api/decode.js';
import { NodeName } from '../api/names.js';
import { readFileIfExists, writeJsonAtomic } from '../src/core/atomic-file.js';
import { exponentialBackoff, type Backoff } from '../src/core/backoff.js';
import { sleep, systemClock, type Clock } from '../src/core/clock.js';
import type { Consul } from '../src/consul/consul.js';
import { SessionExpiredError } from '../src/consul/errors.js';
import type { SessionSpec } from '../src/consul/session.js';
import type { Logger } from '../src/runtime/logger.js';
import type { Runnable } from '../src/runtime/manager.js';

export interface SessionManagerOptions {
  readonly consul: Consul;
  /** The appmesh node name. */
  readonly node: string;
  /** KV prefix (default `appmesh`); only used to name the session. */
  readonly prefix: string;
  /** Consul accepts 10..86400 s. */
  readonly ttlSeconds: number;
  readonly lockDelaySeconds: number;
  /**
   * Liveness: register service `appmesh-agent` (ID `appmesh-agent-<node>`) with an HTTP check on this URL
   * every `livenessIntervalSeconds` (default 1), passing initially; the session names that check in
   * ServiceChecks plus `serfHealth` in NodeChecks. Undefined = no service and no liveness check (TTL and
   * serfHealth only).
   */
  readonly healthUrl?: string;
  readonly livenessIntervalSeconds?: number;
  /**
   * The URL this agent advertises to the cluster (its REST API and /metrics). `appmesh-agent` is
   * registered with its host and port as the service Address and Port, so Consul service discovery
   * (Prometheus' consul_sd_configs) finds the agent there; default: the origin of `healthUrl`.
   */
  readonly advertiseUrl?: string;
  /** `<dataDir>/session.json` records the current session, so a restarted agent can destroy it first. */
  readonly dataDir: string;
  readonly clock?: Clock;
  readonly logger: Logger;
  /** Called each time a session is created to replace a lost one (not for the first). */
  readonly onRecreated?: () => void;
  /** Delay before retry n of a failed create; default 250 ms doubling to 5 s. */
  readonly retryBackoff?: Backoff;
}

export const AGENT_SERVICE_NAME = 'appmesh-agent';
/** The liveness check's timeout is at least this (see registerAgentService). */
const LIVENESS_TIMEOUT_FLOOR_SECONDS = 3;

/** The Consul service ID of this agent's own registration. */
export function agentServiceId(node: string): string {
  return `${AGENT_SERVICE_NAME}-${node}`;
}

/** The ID of the HTTP check on the agent's health endpoint that the session is bound to. */
export function livenessCheckId(node: string): string {
  return `${agentServiceId(node)}-liveness`;
}

/**
 * Where `appmesh-agent` is found: the advertised URL's host and port, and in Meta the node, the scheme and
 * the metrics path, which a Prometheus consul_sd job relabels into `__scheme__` and `__metrics_path__`.
 */
export function agentServiceAddress(url: string): {
  address: string;
  port: number;
  meta: Record<string, string>;
} {
  const parsed = new URL(url);
  // URL's origin drops a default port (http :80, https :443); the registration must name it.
  const scheme = parsed.protocol.replace(/:$/, '');
  const port = parsed.port === '' ? (scheme === 'https' ? 443 : 80) : Number(parsed.port);
  // URL keeps an IPv6 host in brackets; Consul wants the bare address.
  const address = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  return { address, port, meta: { scheme, metrics_path: '/metrics' } };
}

export const SESSION_RECORD_FILE = 'session.json';

/** What `<dataDir>/session.json` holds; extra fields are tolerated. */
const SessionRecord = t.type({ id: t.string });

const DEFAULT_RETRY_BACKOFF = exponentialBackoff({ initialMs: 250, maxMs: 5_000 });
/** Consul's own bounds for a session TTL. */
const MIN_TTL_SECONDS = 10;
const MAX_TTL_SECONDS = 86_400;

export class SessionManager implements Runnable {
  readonly name = 'session';
  readonly sessions: Observable<string | undefined>;

  readonly #options: SessionManagerOptions;
  readonly #consul: Consul;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #backoff: Backoff;
  readonly #recordPath: string;
  readonly #current = new BehaviorSubject<string | undefined>(undefined);
  /** Aborts the waits and renewals of the keep-alive loop; creates and destroys always run to the end. */
  readonly #abort = new AbortController();
  /** Sessions of ours that may still be alive in Consul and must be destroyed before creating a new one. */
  readonly #stale = new Set<string>();
  /** The TTL Consul last reported for the current session (it may raise what we asked for). */
  #ttlSeconds: number;
  #created = 0;
  #serviceRegistered = false;
  #starting: Promise<void> | undefined;
  #loop: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;

  constructor(options: SessionManagerOptions) {
    if (!NodeName.is(options.node)) {
      throw new RangeError(
        `session manager: node name ${JSON.stringify(options.node)} is invalid; use 1-128 letters, digits, '_', '.' or '-'`,
      );
    }
    if (!(options.ttlSeconds >= MIN_TTL_SECONDS && options.ttlSeconds <= MAX_TTL_SECONDS)) {
      throw new RangeError(
        `session manager: ttlSeconds must be within ${MIN_TTL_SECONDS}..${MAX_TTL_SECONDS} (Consul's bounds), got ${options.ttlSeconds}`,
      );
    }
    if (!(options.lockDelaySeconds >= 0)) {
      throw new RangeError(`session manager: lockDelaySeconds must be >= 0, got ${options.lockDelaySeconds}`);
    }
    const interval = options.livenessIntervalSeconds ?? 1;
    if (!(interval > 0)) {
      throw new RangeError(`session manager: livenessIntervalSeconds must be > 0, got ${interval}`);
    }
    this.#options = options;
    this.#consul = options.consul;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.logger.child({ component: 'session', node: options.node });
    this.#backoff = options.retryBackoff ?? DEFAULT_RETRY_BACKOFF;
    this.#recordPath = join(options.dataDir, SESSION_RECORD_FILE);
    this.#ttlSeconds = options.ttlSeconds;
    this.sessions = this.#current.pipe(distinctUntilChanged());
  }

  get current(): string | undefined {
    return this.#current.value;
  }

  /**
   * Registers the liveness check, destroys the session recorded by a previous run and creates a session.
   * Resolves after that first attempt whether or not Consul answered (static stability: the agent runs
   * without Consul); the attempts go on in the background and `sessions` says undefined meanwhile.
   */
  start(): Promise<void> {
    if (this.#stopping !== undefined) return Promise.resolve();
    this.#starting ??= this.#startOnce();
    return this.#starting;
  }

  async #startOnce(): Promise<void> {
    const recorded = await this.#readRecord();
    if (recorded !== undefined) this.#stale.add(recorded);
    let failures = 0;
    try {
      await this.#establish();
    } catch (error) {
      failures = 1;
      this.#logCreateFailure(error, failures);
    }
    this.#loop = this.#keepAlive(failures);
  }

  /** Stops renewing, destroys the session and deregisters the agent service. Never rejects. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stopAll();
    return this.#stopping;
  }

  async #stopAll(): Promise<void> {
    this.#abort.abort(new Error('session manager stopped'));
    // A first attempt in flight finishes (so a session it creates is destroyed below); the loop then ends.
    await this.#starting;
    await this.#loop;
    const id = this.#current.value;
    this.#current.next(undefined);
    if (id !== undefined) {
      try {
        await this.#consul.session.destroy(id);
        await rm(this.#recordPath, { force: true });
        this.#log.info('destroyed the consul session', { session: id });
      } catch (error) {
        this.#log.warn(
          'could not destroy the consul session; it ends with its check or TTL, and the next start destroys it',
          { session: id, error: errorMessage(error) },
        );
      }
    }
    if (this.#options.healthUrl !== undefined) {
      const serviceId = agentServiceId(this.#options.node);
      try {
        await this.#consul.agent.deregisterService(serviceId);
      } catch (error) {
        this.#log.warn('could not deregister the agent service from the local consul agent', {
          service: serviceId,
          error: errorMessage(error),
        });
      }
    }
  }

  /** Holds a session until stopped: creates one whenever there is none, renews it while there is. */
  async #keepAlive(initialFailures: number): Promise<void> {
    const signal = this.#abort.signal;
    let failures = initialFailures;
    while (!signal.aborted) {
      try {
        const id = this.#current.value;
        if (id === undefined) {
          if (failures > 0) await sleep(this.#backoff(failures), signal, this.#clock);
          await this.#establish();
          failures = 0;
        } else {
          await this.#renewUntilLost(id, signal);
          this.#current.next(undefined);
        }
      } catch (error) {
        if (signal.aborted) return;
        failures += 1;
        this.#logCreateFailure(error, failures);
      }
    }
  }

  /**
   * Renews every TTL/3 until the session is lost: Consul answers 404 (destroyed, or invalidated by a
   * failed check), or no renew has succeeded for a whole TTL (Consul may well have dropped it by then).
   */
  async #renewUntilLost(id: string, signal: AbortSignal): Promise<void> {
    let lastRenewed = this.#clock.now();
    let failures = 0;
    for (;;) {
      const ttlMs = this.#ttlSeconds * 1000;
      const deadline = lastRenewed + ttlMs;
      const wait = failures === 0 ? ttlMs / 3 : Math.min(this.#backoff(failures), ttlMs / 3);
      await sleep(Math.max(0, Math.min(wait, deadline - this.#clock.now())), signal, this.#clock);
      if (this.#clock.now() >= deadline) {
        // It may still live in Consul and hold our keys: destroy it before the next create.
        this.#stale.add(id);
        this.#log.warn('no renew of the consul session succeeded for a whole TTL; replacing it', {
          session: id,
          ttlSeconds: this.#ttlSeconds,
        });
        return;
      }
      try {
        const info = await this.#consul.session.renew(id, signal);
        lastRenewed = this.#clock.now();
        failures = 0;
        if (info.ttlSeconds !== undefined && info.ttlSeconds > this.#ttlSeconds) {
          this.#log.info('consul raised the session TTL; renewing at the new pace', {
            session: id,
            ttlSeconds: info.ttlSeconds,
          });
          this.#ttlSeconds = info.ttlSeconds;
        }
      } catch (error) {
        if (signal.aborted) throw error;
        if (error instanceof SessionExpiredError) {
          this.#log.warn(
            'the consul session is gone (destroyed, or invalidated by a failing check); creating a new one',
            { session: id },
          );
          return;
        }
        failures += 1;
        this.#log.warn('renewing the consul session failed; retrying', {
          session: id,
          attempt: failures,
          error: errorMessage(error),
        });
      }
    }
  }

  /** Registers the liveness check if needed, destroys stale sessions, creates a session and publishes it. */
  async #establish(): Promise<void> {
    await this.#ensureLivenessCheck();
    for (const stale of [...this.#stale]) {
      await this.#consul.session.destroy(stale);
      this.#stale.delete(stale);
      this.#log.info('destroyed a stale consul session of this node', { session: stale });
    }
    const id = await this.#consul.session.create(this.#sessionSpec());
    this.#ttlSeconds = this.#options.ttlSeconds;
    this.#created += 1;
    await this.#writeRecord(id);
    this.#current.next(id);
    this.#log.info('created the consul session', { session: id, ttlSeconds: this.#ttlSeconds });
    if (this.#created > 1) this.#options.onRecreated?.();
  }

  #sessionSpec(): SessionSpec {
    const { node, prefix, healthUrl, ttlSeconds, lockDelaySeconds } = this.#options;
    return {
      name: `${prefix}/${node}`,
      ttlSeconds,
      behavior: 'delete',
      lockDelaySeconds,
      nodeChecks: ['serfHealth'],
      ...(healthUrl !== undefined ? { serviceChecks: [livenessCheckId(node)] } : {}),
    };
  }

  /**
   * Registers the agent service and its check at the first attempt (so a changed URL applies), later only
   * when the local Consul agent has lost it (restarted without state). Re-registering an existing check
   * would reset it to passing and let a session be created while the agent is unhealthy.
   */
  async #ensureLivenessCheck(): Promise<void> {
    const { node, healthUrl } = this.#options;
    if (healthUrl === undefined) return;
    const checkId = livenessCheckId(node);
    if (this.#serviceRegistered) {
      const checks = await this.#consul.agent.checks();
      if (checks[checkId] !== undefined) return;
      this.#log.warn(
        'the local consul agent lost the liveness check (restarted without state?); registering it again',
        {
          check: checkId,
        },
      );
    } else if (this.#stale.size > 0) {
      // Our previous incarnation (its session is recorded in our data dir) died, so its check is critical,
      // and Consul keeps a check's status when it is registered again under the same ID: no session could
      // be created until the next check run. Removing the old registration first lets the new one start
      // passing, and the node key comes back at once.
      await this.#consul.agent.deregisterService(agentServiceId(node));
    }
    const intervalSeconds = this.#options.livenessIntervalSeconds ?? 1;
    const interval = `${intervalSeconds}s`;
    // A dead agent refuses the connection at once, so detection rides on the interval; the timeout only
    // decides when a slow answer counts as dead. A busy host (a CPU-bound neighbour, a GC pause) must not
    // lose its session and move every task, so allow a few seconds.
    const timeout = `${Math.max(intervalSeconds, LIVENESS_TIMEOUT_FLOOR_SECONDS)}s`;
    const where = agentServiceAddress(this.#options.advertiseUrl ?? healthUrl);
    await this.#consul.agent.registerService({
      id: agentServiceId(node),
      name: AGENT_SERVICE_NAME,
      address: where.address,
      port: where.port,
      meta: { node, ...where.meta },
      checks: [
        {
          id: checkId,
          name: `appmesh agent ${node} liveness`,
          http: healthUrl,
          interval,
          timeout,
          // A new session may name only a passing check; the first run corrects it within one interval.
          initialStatus: 'passing',
        },
      ],
    });
    this.#serviceRegistered = true;
  }

  async #readRecord(): Promise<string | undefined> {
    let text: string | undefined;
    try {
      text = await readFileIfExists(this.#recordPath);
    } catch (error) {
      this.#log.warn('could not read the recorded session; a stale one will expire by itself', {
        file: this.#recordPath,
        error: errorMessage(error),
      });
      return undefined;
    }
    if (text === undefined) return undefined;
    const record = decodeJson(SessionRecord, text, this.#recordPath);
    if (isLeft(record)) {
      this.#log.warn('ignoring an unreadable session record; a stale session will expire by itself', {
        error: record.left.message,
      });
      return undefined;
    }
    return record.right.id;
  }

  async #writeRecord(id: string): Promise<void> {
    try {
      await mkdir(this.#options.dataDir, { recursive: true });
      await writeJsonAtomic(this.#recordPath, {
        id,
        node: this.#options.node,
        created: new Date(this.#clock.now()).toISOString(),
      });
    } catch (error) {
      this.#log.warn(
        'could not record the session id; after a restart the node key returns only once this session expires',
        { file: this.#recordPath, error: errorMessage(error) },
      );
    }
  }

  #logCreateFailure(error: unknown, attempt: number): void {
    this.#log.warn(`could not create a consul session at ${this.#consul.address}; retrying`, {
      attempt,
      error: errorMessage(error),
    });
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
