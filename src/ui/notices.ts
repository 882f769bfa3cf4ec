// The two ways the page reports trouble: a dismissible message for the last failed request, and a
// banner that stays up exactly while the agent cannot be reached.

import { AgentUnreachableError, ApiError, CancelledError, type Reachability } from './api.js';
import { el } from './dom.js';

export class MessageArea {
  constructor(
    private readonly box: HTMLElement,
    private readonly text: HTMLElement,
    dismiss: HTMLButtonElement,
  ) {
    dismiss.addEventListener('click', () => this.clear());
  }

  /** Shows what failed and why; `doing` says what the page was trying to do, e.g. "Restart demo". */
  show(error: unknown, doing?: string): void {
    if (error instanceof CancelledError) return;
    const message = messageOf(error);
    const lines = doing === undefined ? message : `${doing} failed: ${message}`;
    const details = error instanceof ApiError ? error.details : [];
    this.text.replaceChildren(
      el('span', {}, lines),
      ...(details.length > 0 ? [el('ul', {}, ...details.map((d) => el('li', {}, d)))] : []),
    );
    this.box.hidden = false;
  }

  clear(): void {
    this.box.hidden = true;
    this.text.replaceChildren();
  }
}

export class Banner implements Reachability {
  constructor(
    private readonly node: HTMLElement,
    origin: string,
  ) {
    node.textContent = `Cannot reach the agent at ${origin} — retrying`;
  }

  reachable(): void {
    this.node.hidden = true;
  }

  unreachable(): void {
    this.node.hidden = false;
  }
}

function messageOf(error: unknown): string {
  if (error instanceof AgentUnreachableError) return `${error.message}; is the agent running?`;
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}
