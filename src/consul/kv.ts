// Consul KV: get, list, keys, put (cas / acquire / release / flags) and delete (cas / recurse).
import { KeyListWire, KvEntryListWire, type KvEntry, type KvEntryWire } from '../../api/consul.js';
import type { ConsulClient } from './client.js';
import { CasConflictError } from './errors.js';

export interface ReadOptions {
  readonly signal?: AbortSignal | undefined;
  /** Blocking query: return when the index moves past this one (or `waitSeconds` passes). */
  readonly index?: number | undefined;
  readonly waitSeconds?: number | undefined;
  readonly consistent?: boolean;
}

export interface PutOptions {
  readonly signal?: AbortSignal;
  /** Write only if the key's ModifyIndex is this (0 = only if absent); a loss raises CasConflictError. */
  readonly cas?: number;
  /** Take the key's lock with this session; a held lock makes put return false. */
  readonly acquire?: string;
  /** Release the key's lock held by this session. */
  readonly release?: string;
  readonly flags?: number;
}

export interface DeleteOptions {
  readonly signal?: AbortSignal;
  readonly cas?: number;
  readonly recurse?: boolean;
}

/** A read result with the X-Consul-Index it was served at. */
export interface Indexed<T> {
  readonly index: number;
  readonly value: T;
}

export function encodeKey(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

export function fromWire(entry: KvEntryWire): KvEntry {
  return {
    key: entry.Key,
    value: entry.Value === null ? null : Buffer.from(entry.Value, 'base64').toString('utf8'),
    flags: entry.Flags,
    createIndex: entry.CreateIndex,
    modifyIndex: entry.ModifyIndex,
    lockIndex: entry.LockIndex,
    ...(entry.Session !== undefined ? { session: entry.Session } : {}),
  };
}

/** Query parameters of a blocking read: only with an index >= 1 and a wait; otherwise a plain read. */
export function blockingParams(options: ReadOptions): {
  readonly query: { readonly index?: number | undefined; readonly wait?: string | undefined };
  readonly waitSeconds: number | undefined;
} {
  const { index, waitSeconds } = options;
  if (index === undefined || index < 1 || waitSeconds === undefined)
    return { query: {}, waitSeconds: undefined };
  return { query: { index, wait: `${waitSeconds}s` }, waitSeconds };
}

export class KvApi {
  constructor(private readonly client: ConsulClient) {}

  /** One key, or undefined when absent. */
  async get(key: string, options: ReadOptions = {}): Promise<Indexed<KvEntry | undefined>> {
    const entries = await this.read(key, false, options);
    return { index: entries.index, value: entries.value.find((e) => e.key === key) };
  }

  /** Every key under `prefix` (recursive), sorted by key. */
  list(prefix: string, options: ReadOptions = {}): Promise<Indexed<KvEntry[]>> {
    return this.read(prefix, true, options);
  }

  /** Key names under `prefix`, optionally only up to `separator`. */
  async keys(prefix: string, separator?: string, signal?: AbortSignal): Promise<string[]> {
    const response = await this.client.request({
      method: 'GET',
      endpoint: '/v1/kv/:prefix?keys',
      path: `/v1/kv/${encodeKey(prefix)}`,
      query: { keys: true, separator },
      signal,
      passStatuses: [404],
    });
    if (response.status === 404) return [];
    return this.client.decode(KeyListWire, response, 'GET /v1/kv/:prefix?keys');
  }

  /**
   * Write `value` (a string as is, anything else as JSON). Returns true on success; false only when an
   * `acquire`/`release` did not take effect. A lost `cas` raises CasConflictError.
   */
  async put(key: string, value: unknown, options: PutOptions = {}): Promise<boolean> {
    const response = await this.client.request({
      method: 'PUT',
      endpoint: '/v1/kv/:key',
      path: `/v1/kv/${encodeKey(key)}`,
      query: { cas: options.cas, acquire: options.acquire, release: options.release, flags: options.flags },
      body: typeof value === 'string' ? value : JSON.stringify(value),
      signal: options.signal,
    });
    const ok = response.body.trim() === 'true';
    if (!ok && options.cas !== undefined) throw new CasConflictError(key, options.cas);
    return ok;
  }

  /** Delete a key (or a prefix with `recurse`). A lost `cas` raises CasConflictError. */
  async delete(key: string, options: DeleteOptions = {}): Promise<void> {
    const response = await this.client.request({
      method: 'DELETE',
      endpoint: '/v1/kv/:key',
      path: `/v1/kv/${encodeKey(key)}`,
      query: { cas: options.cas, recurse: options.recurse },
      signal: options.signal,
    });
    if (response.body.trim() !== 'true' && options.cas !== undefined)
      throw new CasConflictError(key, options.cas);
  }

  private async read(key: string, recurse: boolean, options: ReadOptions): Promise<Indexed<KvEntry[]>> {
    const endpoint = recurse ? '/v1/kv/:prefix?recurse' : '/v1/kv/:key';
    const blocking = blockingParams(options);
    const response = await this.client.request({
      method: 'GET',
      endpoint,
      path: `/v1/kv/${encodeKey(key)}`,
      query: { ...blocking.query, recurse, consistent: options.consistent },
      signal: options.signal,
      blockingWaitSeconds: blocking.waitSeconds,
      passStatuses: [404],
    });
    const index = response.index ?? 0;
    if (response.status === 404) return { index, value: [] };
    const entries = this.client.decode(KvEntryListWire, response, `GET ${endpoint}`).map(fromWire);
    entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return { index, value: entries };
  }
}
