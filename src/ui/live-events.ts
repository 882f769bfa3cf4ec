// Follows the agent's server-sent events over fetch, not EventSource: EventSource cannot send the
// Authorization header the agent requires (and a token in the URL would end up in logs and history).
// A dropped or refused stream is opened again after a backoff, so the page never stops following the
// agent; a 401 first asks for the token.

export interface LiveHandlers {
  apps(data: string): void;
  cluster(data: string): void;
  open(): void;
  error(): void;
  /** The agent refused the token (or none was stored): resolves once the user answered the form. */
  unauthorized(message: string): Promise<void>;
}

export type Backoff = (attempt: number) => number;

const defaultBackoff: Backoff = (attempt) => Math.min(30_000, 1000 * 2 ** attempt);

export class LiveEvents {
  private controller: AbortController | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private attempt = 0;

  constructor(
    private readonly url: string,
    private readonly handlers: LiveHandlers,
    /** The headers of each connection (the current token), read when it opens. */
    private readonly headers: () => Record<string, string>,
    private readonly backoff: Backoff = defaultBackoff,
    private readonly fetchImpl: typeof fetch = (input, init) => fetch(input, init),
  ) {}

  start(): void {
    this.stop();
    const controller = new AbortController();
    this.controller = controller;
    void this.follow(controller.signal);
  }

  stop(): void {
    clearTimeout(this.retryTimer);
    this.controller?.abort();
    this.controller = undefined;
  }

  private async follow(signal: AbortSignal): Promise<void> {
    try {
      const res = await this.fetchImpl(this.url, {
        headers: { ...this.headers(), accept: 'text/event-stream' },
        cache: 'no-store',
        signal,
      });
      if (res.status === 401) {
        await this.handlers.unauthorized(await refusal(res));
        if (!signal.aborted) this.start(); // with the new token, at once
        return;
      }
      if (!res.ok || res.body === null) throw new Error(`HTTP ${res.status}`);
      this.attempt = 0;
      this.handlers.open();
      await this.read(res.body, signal);
      throw new Error('the event stream ended');
    } catch {
      if (signal.aborted) return;
      this.handlers.error();
      this.retryTimer = setTimeout(() => this.start(), this.backoff(this.attempt++));
    }
  }

  /** Splits the stream into events (blank-line separated); comments and `retry:` are skipped. */
  private async read(body: ReadableStream<Uint8Array>, signal: AbortSignal): Promise<void> {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done || signal.aborted) return;
        buffer += decoder.decode(value, { stream: true });
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          this.dispatch(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf('\n\n');
        }
      }
    } finally {
      reader.releaseLock();
    }
  }

  private dispatch(block: string): void {
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
    if (data.length === 0) return;
    if (event === 'apps') this.handlers.apps(data.join('\n'));
    else if (event === 'cluster') this.handlers.cluster(data.join('\n'));
  }
}

async function refusal(res: Response): Promise<string> {
  try {
    const body: unknown = await res.json();
    if (typeof body === 'object' && body !== null && 'error' in body && typeof body.error === 'string') {
      return body.error;
    }
  } catch {
    // not JSON
  }
  return 'The agent needs its API token.';
}
