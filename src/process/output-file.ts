// An app's output appended to <outputDir>/<name>.out, so it survives the in-memory buffer. The file is
// bounded: past `maxBytes` it is renamed to <name>.out.1 (replacing the previous one) and started anew.
import { createWriteStream, fstatSync, mkdirSync, openSync, renameSync, type WriteStream } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from 'winston';

export const OUTPUT_FILE_MAX_BYTES = 8 * 1024 * 1024;

export class OutputFile {
  readonly path: string;
  #stream: WriteStream | undefined;
  #bytes = 0;
  #failed = false;
  readonly #closing = new Set<Promise<void>>();

  constructor(
    outputDir: string,
    appName: string,
    private readonly logger: Logger,
    private readonly maxBytes = OUTPUT_FILE_MAX_BYTES,
  ) {
    this.path = join(outputDir, `${appName}.out`);
  }

  writeLine(line: string): void {
    if (this.#failed) return;
    const text = `${line}\n`;
    const size = Buffer.byteLength(text);
    try {
      if (this.#stream !== undefined && this.#bytes + size > this.maxBytes) this.#rotate();
      this.#open().write(text);
      this.#bytes += size;
    } catch (err) {
      this.#fail(err);
    }
  }

  /** Flushes and closes the file; later lines are not written. */
  async close(): Promise<void> {
    this.#failed = true;
    this.#closeStream();
    await Promise.all([...this.#closing]);
  }

  #open(): WriteStream {
    if (this.#stream !== undefined) return this.#stream;
    mkdirSync(dirname(this.path), { recursive: true });
    // Opened synchronously so the file exists at once: a rotation right after must find it to rename.
    const fd = openSync(this.path, 'a', 0o640);
    this.#bytes = fstatSync(fd).size;
    const stream = createWriteStream(this.path, { fd });
    stream.on('error', (err) => this.#fail(err));
    this.#stream = stream;
    return stream;
  }

  #rotate(): void {
    // Writes still queued on the old stream land in the renamed file: the descriptor follows the rename.
    renameSync(this.path, `${this.path}.1`);
    this.#closeStream();
  }

  #closeStream(): void {
    const stream = this.#stream;
    if (stream === undefined) return;
    this.#stream = undefined;
    const done = new Promise<void>((resolve) => stream.end(() => resolve()));
    this.#closing.add(done);
    void done.then(() => this.#closing.delete(done));
  }

  #fail(err: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    this.logger.warn('stopped writing app output to its file', {
      path: this.path,
      error: (err as Error).message,
    });
    this.#closeStream();
  }
}
