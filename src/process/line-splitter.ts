// Splits a process's byte stream into text lines: UTF-8 characters split across chunks are kept whole,
// "\r\n" counts as one line end, and a line that never ends is cut into bounded pieces (a progress
// bar or binary output must not grow memory without limit).
import { StringDecoder } from 'node:string_decoder';

export const MAX_LINE_CHARS = 64 * 1024;

export class LineSplitter {
  readonly #decoder = new StringDecoder('utf8');
  #partial = '';

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly maxLineChars = MAX_LINE_CHARS,
  ) {}

  write(chunk: Buffer | string): void {
    const text = this.#partial + (typeof chunk === 'string' ? chunk : this.#decoder.write(chunk));
    let start = 0;
    for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
      this.#emit(text.slice(start, end));
      start = end + 1;
    }
    this.#partial = text.slice(start);
    while (this.#partial.length > this.maxLineChars) {
      this.onLine(this.#partial.slice(0, this.maxLineChars));
      this.#partial = this.#partial.slice(this.maxLineChars);
    }
  }

  /** The stream ended: a last line without a newline is still a line. */
  end(): void {
    const rest = this.#partial + this.#decoder.end();
    this.#partial = '';
    if (rest !== '') this.#emit(rest);
  }

  #emit(line: string): void {
    this.onLine(line.endsWith('\r') ? line.slice(0, -1) : line);
  }
}
