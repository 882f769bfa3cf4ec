// Consul `/v1/txn`: several KV operations applied atomically. Used for the leader's fenced writes:
// a txn that starts with `check-session` on the leader key is rejected once the leader is deposed.
import { TxnResponseWire, type KvEntry } from '../../api/consul.js';
import type { ConsulClient } from './client.js';
import { TxnRollbackError } from './errors.js';
import { fromWire } from './kv.js';

/** Consul refuses larger transactions (limit since Consul 1.14). */
export const MAX_TXN_OPS = 128;

export type TxnOp =
  | { readonly verb: 'set'; readonly key: string; readonly value: unknown; readonly flags?: number }
  | { readonly verb: 'cas'; readonly key: string; readonly value: unknown; readonly index: number }
  | {
      readonly verb: 'lock' | 'unlock';
      readonly key: string;
      readonly value: unknown;
      readonly session: string;
    }
  | { readonly verb: 'get' | 'delete' | 'delete-tree' | 'check-not-exists'; readonly key: string }
  | { readonly verb: 'check-index' | 'delete-cas'; readonly key: string; readonly index: number }
  | { readonly verb: 'check-session'; readonly key: string; readonly session: string };

function toWire(op: TxnOp): { KV: Record<string, unknown> } {
  const kv: Record<string, unknown> = { Verb: op.verb, Key: op.key };
  if ('value' in op) {
    const text = typeof op.value === 'string' ? op.value : JSON.stringify(op.value);
    kv['Value'] = Buffer.from(text, 'utf8').toString('base64');
  }
  if ('index' in op) kv['Index'] = op.index;
  if ('session' in op) kv['Session'] = op.session;
  if ('flags' in op && op.flags !== undefined) kv['Flags'] = op.flags;
  return { KV: kv };
}

export class TxnApi {
  constructor(private readonly client: ConsulClient) {}

  /**
   * Apply `ops` atomically. Returns the entries Consul reports (for `get` and writes); a rollback raises
   * TxnRollbackError naming each failed op. More than MAX_TXN_OPS ops is a programming error: split on purpose.
   */
  async apply(ops: readonly TxnOp[], signal?: AbortSignal): Promise<KvEntry[]> {
    if (ops.length === 0) return [];
    if (ops.length > MAX_TXN_OPS) {
      throw new RangeError(`a consul transaction holds at most ${MAX_TXN_OPS} operations, got ${ops.length}`);
    }
    const response = await this.client.request({
      method: 'PUT',
      endpoint: '/v1/txn',
      path: '/v1/txn',
      body: ops.map(toWire),
      signal,
      passStatuses: [409],
    });
    const result = this.client.decode(TxnResponseWire, response, 'PUT /v1/txn');
    if (response.status === 409 || (result.Errors && result.Errors.length > 0)) {
      throw new TxnRollbackError(
        (result.Errors ?? []).map((e) => ({
          opIndex: e.OpIndex,
          what: `${describeOp(ops[e.OpIndex])}: ${e.What}`,
        })),
      );
    }
    return (result.Results ?? []).flatMap((r) => (r.KV ? [fromWire(r.KV)] : []));
  }
}

function describeOp(op: TxnOp | undefined): string {
  return op ? `${op.verb} ${op.key}` : 'unknown op';
}
