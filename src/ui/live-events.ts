// Follows the agent's server-sent events. EventSource retries by itself while a connection drops;
// when the browser gives up for good (readyState CLOSED, e.g. after a non-200 answer) a fresh one
// is opened after a backoff, so the page never stops following the agent.

export interface LiveHandlers {
  apps(data: string): void;
  cluster(data: string): void;
  open(): void;
  error(): void;
}

export type Backoff = (attempt: number) => number;

const defaultBackoff: Backoff = (attempt) => Math.min(30_000, 1000 * 2 ** attempt);

export class LiveEvents {
  private source: EventSource | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private attempt = 0;

  constructor(
    private readonly url: string,
    private readonly handlers: LiveHandlers,
    private readonly backoff: Backoff = defaultBackoff,
  ) {}

  start(): void {
    this.stop();
    const source = new EventSource(this.url);
    this.source = source;
    source.addEventListener('open', () => {
      this.attempt = 0;
      this.handlers.open();
    });
    source.addEventListener('apps', (event) => this.handlers.apps(dataOf(event)));
    source.addEventListener('cluster', (event) => this.handlers.cluster(dataOf(event)));
    source.addEventListener('error', () => {
      this.handlers.error();
      if (source.readyState === EventSource.CLOSED) {
        this.retryTimer = setTimeout(() => this.start(), this.backoff(this.attempt++));
      }
    });
  }

  stop(): void {
    clearTimeout(this.retryTimer);
    this.source?.close();
    this.source = undefined;
  }
}

function dataOf(event: Event): string {
  return event instanceof MessageEvent && typeof event.data === 'string' ? event.data : '';
}
