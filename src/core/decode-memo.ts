// Remembers the last decode of each key's value, so a reconcile over a whole prefix decodes only the
// values that changed since the last one (the scheduler re-reads every task, node and topology key on
// each reconcile, and with thousands of keys the JSON parse and io-ts decode would dominate).
export class DecodeMemo<T> {
  readonly #entries = new Map<string, { readonly raw: string; readonly decoded: T }>();
  readonly #used = new Set<string>();

  /** The decode of `raw` for `key`: the remembered one when the key last had the same raw value. */
  get(key: string, raw: string, decode: (raw: string) => T): T {
    this.#used.add(key);
    const entry = this.#entries.get(key);
    if (entry !== undefined && entry.raw === raw) return entry.decoded;
    const decoded = decode(raw);
    this.#entries.set(key, { raw, decoded });
    return decoded;
  }

  /** Forgets the keys not asked for since the last sweep (deleted keys), so the memo does not grow. */
  sweep(): void {
    for (const key of this.#entries.keys()) if (!this.#used.has(key)) this.#entries.delete(key);
    this.#used.clear();
  }

  get size(): number {
    return this.#entries.size;
  }
}
