// The detail panel for one app: its spec and status as JSON, the output tail followed by polling,
// and the buttons that change it. Output is appended in place and never re-rendered, so a busy
// apps stream does not reset what the user is reading.

import { AgentClient, AgentUnreachableError, ApiError, appPath, type Mutation } from './api.js';
import { decodeApp, type AppStatus } from './decode.js';
import { el, setAttr, setText } from './dom.js';
import type { MessageArea } from './notices.js';

/** Lines kept in the output view; older ones are dropped in batches to keep appends cheap. */
const MAX_OUTPUT_LINES = 2000;
const TRIM_SLACK = 500;

const ACTIONS: readonly Mutation[] = ['enable', 'disable', 'restart', 'delete'];
const CLUSTER_OWNED_REFUSES = new Set<Mutation>(['enable', 'disable', 'delete']);
const DONE: Readonly<Record<Mutation, string>> = {
  enable: 'Enabled',
  disable: 'Disabled',
  restart: 'Restart requested for',
  delete: 'Deleted',
};

export interface AppDetailOptions {
  readonly tokenRequired: () => boolean;
  readonly onDeleted: (name: string) => void;
  readonly pollMs?: number;
}

export class AppDetail {
  private readonly title = el('h2');
  private readonly note = el('p', { class: 'note', hidden: '' });
  private readonly status = el('p', { class: 'action-status', 'aria-live': 'polite' });
  private readonly spec = el('pre', { 'data-testid': 'spec', class: 'spec' });
  private readonly output = el('pre', { 'data-testid': 'output', class: 'output', tabindex: '0' });
  private readonly buttons: ReadonlyMap<Mutation, HTMLButtonElement>;
  private readonly confirm: HTMLDivElement;
  private readonly confirmText = el('span');
  private readonly pollMs: number;

  private name: string | undefined;
  private app: AppStatus | undefined;
  private gone = false;
  private busy = false;
  /** Bumped whenever polling must stop, so a request in flight knows its answer is stale. */
  private session = 0;
  private pollTimer: ReturnType<typeof setTimeout> | undefined;
  private offset: string | undefined;
  private outputLines = 0;

  constructor(
    private readonly root: HTMLElement,
    private readonly client: AgentClient,
    private readonly messages: MessageArea,
    private readonly options: AppDetailOptions,
  ) {
    this.pollMs = options.pollMs ?? 1000;
    this.buttons = new Map(
      ACTIONS.map((action) => {
        const button = el(
          'button',
          { type: 'button', 'data-action': action, class: `btn-${action}` },
          capitalize(action),
        );
        button.addEventListener('click', () => this.onAction(action));
        return [action, button];
      }),
    );
    const yes = el('button', { type: 'button', 'data-action': 'confirm-delete', class: 'btn-delete' }, 'Yes');
    const no = el('button', { type: 'button', 'data-action': 'cancel-delete' }, 'No');
    yes.addEventListener('click', () => {
      this.confirm.hidden = true;
      void this.act('delete');
    });
    no.addEventListener('click', () => (this.confirm.hidden = true));
    this.confirm = el('div', { class: 'confirm', hidden: '', role: 'alert' }, this.confirmText, yes, no);

    root.replaceChildren(
      el('div', { class: 'detail-head' }, this.title, el('a', { href: '#/apps', class: 'close' }, 'Close')),
      this.note,
      el('div', { class: 'actions' }, ...this.buttons.values()),
      this.confirm,
      this.status,
      el('h3', {}, 'Spec and status'),
      this.spec,
      el('h3', {}, 'Output'),
      this.output,
    );
    root.hidden = true;
  }

  get openName(): string | undefined {
    return this.name;
  }

  /** Opens the panel for `name`; `known` is the app from the latest apps list, when there is one. */
  open(name: string, known: AppStatus | undefined): void {
    if (name === this.name) return;
    this.close();
    this.name = name;
    this.root.hidden = false;
    this.root.setAttribute('data-app', name);
    this.title.textContent = name;
    this.confirmText.textContent = `Really delete ${name}? `;
    this.startOutput();
    if (known) this.show(known);
    else {
      this.spec.textContent = 'Loading…';
      void this.fetchApp(name, this.session);
    }
    this.refreshButtons();
  }

  close(): void {
    this.stopOutput();
    this.name = undefined;
    this.app = undefined;
    this.gone = false;
    this.root.hidden = true;
    this.root.removeAttribute('data-app');
    this.note.hidden = true;
    this.confirm.hidden = true;
    this.status.textContent = '';
  }

  /** Feeds the app's entry from a new apps list; undefined means the list no longer has it. */
  update(app: AppStatus | undefined): void {
    if (this.name === undefined) return;
    if (app === undefined) {
      if (!this.gone) this.markGone();
      return;
    }
    if (this.gone) {
      // Recreated under the same name: its output buffer starts over, so does the view.
      this.gone = false;
      this.note.hidden = true;
      this.startOutput();
    }
    this.show(app);
  }

  private show(app: AppStatus): void {
    this.app = app;
    setText(this.spec, JSON.stringify(app.raw, null, 2));
    this.refreshButtons();
  }

  private async fetchApp(name: string, session: number): Promise<void> {
    try {
      const app = await this.client.getJson(appPath(name), (json) => decodeApp(json));
      // An apps event may have answered first; it is newer than this reply.
      if (session === this.session && this.app === undefined) this.show(app);
    } catch (error) {
      if (session !== this.session) return;
      if (error instanceof ApiError && error.status === 404) this.markGone();
      else if (!(error instanceof AgentUnreachableError)) this.messages.show(error, `Reading ${name}`);
    }
  }

  private markGone(): void {
    this.gone = true;
    this.stopOutput();
    this.note.textContent = `There is no app named ${this.name ?? ''} on this agent (any more).`;
    this.note.hidden = false;
    this.confirm.hidden = true;
    this.refreshButtons();
  }

  private startOutput(): void {
    this.stopOutput();
    this.output.replaceChildren();
    this.offset = undefined;
    this.outputLines = 0;
    const session = this.session;
    void this.pollOutput(session);
  }

  private stopOutput(): void {
    this.session++;
    clearTimeout(this.pollTimer);
    this.pollTimer = undefined;
  }

  private async pollOutput(session: number): Promise<void> {
    const name = this.name;
    if (name === undefined || session !== this.session) return;
    let delay = this.pollMs;
    try {
      const chunk = await this.client.getOutput(name, this.offset);
      if (session !== this.session) return;
      if (chunk.position === undefined) {
        // Without the position the next poll would repeat the whole tail; stop rather than duplicate.
        this.appendOutput('[appmesh ui: the agent did not send x-output-position; output is not followed]\n');
        return;
      }
      let text = chunk.text;
      if (chunk.truncated) {
        const marker = this.offset === undefined ? 'earlier output was not kept' : 'some lines were missed';
        text = `[… ${marker} …]\n${text}`;
      }
      this.offset = chunk.position;
      this.appendOutput(text);
    } catch (error) {
      if (session !== this.session) return;
      if (error instanceof ApiError && error.status === 404) {
        this.markGone();
        return;
      }
      if (!(error instanceof AgentUnreachableError))
        this.messages.show(error, `Reading the output of ${name}`);
      delay = this.pollMs * 3;
    }
    this.pollTimer = setTimeout(() => void this.pollOutput(session), delay);
  }

  private appendOutput(text: string): void {
    if (text === '') return;
    const pre = this.output;
    // Follow new lines only when the user is already at the bottom, so scrolling up to read stays put.
    const following = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 24;
    const complete = text.endsWith('\n') ? text : `${text}\n`;
    pre.append(complete);
    this.outputLines += countNewlines(complete);
    if (this.outputLines > MAX_OUTPUT_LINES + TRIM_SLACK) {
      const lines = (pre.textContent ?? '').split('\n');
      // split leaves one empty string after the final newline; keep it so the text still ends in one.
      pre.textContent = lines.slice(-(MAX_OUTPUT_LINES + 1)).join('\n');
      this.outputLines = MAX_OUTPUT_LINES;
    }
    if (following) pre.scrollTop = pre.scrollHeight;
  }

  private onAction(action: Mutation): void {
    if (action === 'delete') {
      this.confirm.hidden = false;
      return;
    }
    void this.act(action);
  }

  private async act(action: Mutation): Promise<void> {
    const name = this.name;
    if (name === undefined || this.busy) return;
    this.busy = true;
    this.refreshButtons();
    this.status.textContent = '';
    try {
      await this.client.mutate(name, action, this.options.tokenRequired());
      if (name === this.name) this.status.textContent = `${DONE[action]} ${name}.`;
      this.messages.clear();
      if (action === 'delete') this.options.onDeleted(name);
    } catch (error) {
      this.messages.show(error, `${capitalize(action)} ${name}`);
    } finally {
      this.busy = false;
      this.refreshButtons();
    }
  }

  private refreshButtons(): void {
    const clusterOwned = this.app?.owner === 'cluster';
    for (const [action, button] of this.buttons) {
      const refused = clusterOwned && CLUSTER_OWNED_REFUSES.has(action);
      button.disabled = this.busy || this.gone || refused;
      setAttr(
        button,
        'title',
        refused ? 'Placed here by the cluster; change its ClusterTask instead' : undefined,
      );
    }
  }
}

function countNewlines(text: string): number {
  let count = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) count++;
  return count;
}

function capitalize(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}
