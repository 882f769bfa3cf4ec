// An app's recent output in memory: the newest lines within a line and a byte limit. Lines are numbered
// from the app's creation (restarts continue the count), so a reader can resume from where it stopped
// and can tell when lines it had not read yet were already dropped.

export interface OutputChunk {
  readonly lines: readonly string[];
  /** The offset to ask for next time. */
  readonly nextOffset: number;
  /** Lines from the requested offset on were dropped before they could be read. */
  readonly truncated: boolean;
}

/** Cuts `line` to at most `maxBytes` UTF-8 bytes without splitting a character. */
function cutToBytes(line: string, maxBytes: number): string {
  if (Buffer.byteLength(line) <= maxBytes) return line;
  const cut = Buffer.from(line).subarray(0, maxBytes).toString('utf8');
  // A character split by the cut decodes as U+FFFD at the end; drop it.
  return cut.endsWith('\uFFFD') ? cut.slice(0, -1) : cut;
}

export class OutputBuffer {
  // Dropped lines are skipped by advancing #head; the array is compacted now and then, so appending
  // stays cheap for chatty apps.
  #lines: string[] = [];
  #head = 0;
  #bytes = 0;
  #dropped = 0;

  constructor(
    private maxLines: number,
    private maxBytes: number,
  ) {}

  /** Offset of the oldest line still held. */
  get firstOffset(): number {
    return this.#dropped;
  }

  /** Offset the next appended line gets. */
  get nextOffset(): number {
    return this.#dropped + this.#lines.length - this.#head;
  }

  append(line: string): void {
    const kept = cutToBytes(line, this.maxBytes);
    this.#lines.push(kept);
    this.#bytes += Buffer.byteLength(kept);
    this.#trim();
  }

  /** Lines from `fromOffset` (default: the oldest held) to the newest. */
  read(fromOffset = 0): OutputChunk {
    const requested = Math.max(0, Math.floor(fromOffset));
    const from = Math.min(Math.max(requested, this.firstOffset), this.nextOffset);
    const start = this.#head + (from - this.firstOffset);
    return {
      lines: this.#lines.slice(start),
      nextOffset: this.nextOffset,
      truncated: requested < this.firstOffset,
    };
  }

  /** New limits (a changed spec); lines beyond them are dropped, oldest first. */
  resize(maxLines: number, maxBytes: number): void {
    this.maxLines = maxLines;
    this.maxBytes = maxBytes;
    this.#trim();
  }

  #trim(): void {
    while (this.#lines.length - this.#head > this.maxLines || this.#bytes > this.maxBytes) {
      const oldest = this.#lines[this.#head];
      if (oldest === undefined) break;
      this.#bytes -= Buffer.byteLength(oldest);
      // Release the dropped line now, not at the next compaction: up to 1024 dropped lines of 64 Ki
      // characters would otherwise stay reachable, far beyond the byte limit.
      this.#lines[this.#head] = '';
      this.#head += 1;
      this.#dropped += 1;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#lines.length) {
      this.#lines = this.#lines.slice(this.#head);
      this.#head = 0;
    }
  }
}
