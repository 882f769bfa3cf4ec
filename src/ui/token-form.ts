// Asks for the agent's API token with a form in the page (not window.prompt, which tests cannot
// fill and which blocks the page) and keeps it in sessionStorage, so it lasts as long as the tab.

import type { TokenSource } from './api.js';

const STORAGE_KEY = 'appmesh.apiToken';

export class TokenForm implements TokenSource {
  private pending: ((token: string | undefined) => void) | undefined;
  private waiting: Promise<string | undefined> | undefined;
  private readonly listeners: (() => void)[] = [];

  constructor(
    private readonly form: HTMLFormElement,
    private readonly input: HTMLInputElement,
    private readonly reason: HTMLElement,
    cancel: HTMLButtonElement,
    private readonly storage: Storage | undefined,
  ) {
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const token = input.value.trim();
      if (token === '') {
        input.focus();
        return;
      }
      this.write(token);
      this.finish(token);
    });
    cancel.addEventListener('click', () => this.finish(undefined));
    form.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') this.finish(undefined);
    });
  }

  current(): string | undefined {
    try {
      return this.storage?.getItem(STORAGE_KEY) ?? undefined;
    } catch {
      return undefined; // storage disabled by the browser: the token lives only for one action
    }
  }

  ask(reason: string): Promise<string | undefined> {
    this.reason.textContent = reason;
    // Two buttons clicked while the form is open share one answer instead of stacking forms.
    if (this.waiting) return this.waiting;
    this.input.value = '';
    this.form.hidden = false;
    this.input.focus();
    this.waiting = new Promise((resolve) => (this.pending = resolve));
    return this.waiting;
  }

  forget(): void {
    try {
      this.storage?.removeItem(STORAGE_KEY);
    } catch {
      // nothing stored
    }
    this.changed();
  }

  /** Keeps a token given another way (a `#token=` link) for the tab. */
  use(token: string): void {
    this.write(token);
  }

  /** Called whenever the stored token appears or disappears (the header offers "Forget token"). */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  private write(token: string): void {
    try {
      this.storage?.setItem(STORAGE_KEY, token);
    } catch {
      // storage disabled: the token is still used for the action in progress
    }
    this.changed();
  }

  private finish(token: string | undefined): void {
    this.form.hidden = true;
    this.input.value = '';
    const resolve = this.pending;
    this.pending = undefined;
    this.waiting = undefined;
    resolve?.(token);
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}
