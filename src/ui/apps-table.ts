// The live apps table. Rows are keyed by app name and patched in place, so a stream of apps events
// for hundreds of apps touches only the cells that changed and never disturbs scroll or selection.

import type { AppStatus } from './decode.js';
import { el, setAttr, setText } from './dom.js';
import { compareText, formatDuration } from './format.js';

const FIELDS = ['name', 'state', 'health', 'pid', 'restarts', 'uptime', 'port', 'owner'] as const;
type Field = (typeof FIELDS)[number];

const KNOWN_HEALTH = new Set(['healthy', 'unhealthy', 'unknown']);
const KNOWN_STATES = new Set(['pending', 'running', 'stopped', 'exited', 'failed', 'disabled', 'backoff']);

interface Row {
  readonly tr: HTMLTableRowElement;
  readonly cells: Readonly<Record<Field, HTMLTableCellElement>>;
  readonly state: HTMLSpanElement;
  readonly health: HTMLSpanElement;
  app: AppStatus;
}

export class AppsTable {
  private readonly rows = new Map<string, Row>();
  private selected: string | undefined;

  constructor(
    private readonly tbody: HTMLTableSectionElement,
    private readonly empty: HTMLElement,
    private readonly now: () => number,
    open: (name: string) => void,
  ) {
    // One listener for all rows; the name cell's link already handles its own clicks.
    tbody.addEventListener('click', (event) => {
      const target = event.target;
      if (!(target instanceof Element) || target.closest('a')) return;
      const name = target.closest('tr')?.getAttribute('data-app');
      if (name) open(name);
    });
  }

  update(apps: readonly AppStatus[]): void {
    const sorted = [...apps].sort((a, b) => compareText(a.name, b.name));
    const seen = new Set<string>();
    // Walk the wanted order and move a row only when it is not already in place: a steady table
    // costs no DOM moves at all, a new app costs one insert.
    let cursor = this.tbody.firstElementChild;
    for (const app of sorted) {
      seen.add(app.name);
      let row = this.rows.get(app.name);
      if (!row) {
        row = this.createRow(app);
        this.rows.set(app.name, row);
      }
      row.app = app;
      this.fill(row);
      if (row.tr === cursor) cursor = cursor.nextElementSibling;
      else this.tbody.insertBefore(row.tr, cursor);
    }
    for (const [name, row] of this.rows) {
      if (seen.has(name)) continue;
      row.tr.remove();
      this.rows.delete(name);
    }
    setText(this.empty, 'No apps on this agent yet.');
    this.empty.hidden = this.rows.size > 0;
  }

  /** Highlights the app whose detail panel is open. */
  select(name: string | undefined): void {
    if (this.selected !== undefined) this.rows.get(this.selected)?.tr.classList.remove('selected');
    this.selected = name;
    if (name !== undefined) this.rows.get(name)?.tr.classList.add('selected');
  }

  /** Advances the uptime column; called once a second. */
  tick(): void {
    for (const row of this.rows.values()) setText(row.cells.uptime, this.uptime(row.app));
  }

  private createRow(app: AppStatus): Row {
    const link = el('a', { href: `#/apps/${encodeURIComponent(app.name)}` }, app.name);
    const state = el('span', { class: 'state' });
    const health = el('span', { class: 'badge' });
    const cell = (field: Field, ...content: Node[]) => el('td', { 'data-field': field }, ...content);
    const cells: Record<Field, HTMLTableCellElement> = {
      name: cell('name', link),
      state: cell('state', state),
      health: cell('health', health),
      pid: cell('pid'),
      restarts: cell('restarts'),
      uptime: cell('uptime'),
      port: cell('port'),
      owner: cell('owner'),
    };
    const tr = el('tr', { 'data-app': app.name }, ...FIELDS.map((field) => cells[field]));
    if (app.name === this.selected) tr.classList.add('selected');
    return { tr, cells, state, health, app };
  }

  private fill(row: Row): void {
    const { app, cells } = row;
    setText(row.state, app.state);
    setAttr(row.state, 'class', `state state-${KNOWN_STATES.has(app.state) ? app.state : 'other'}`);
    setText(row.health, app.health);
    setAttr(row.health, 'class', `badge health-${KNOWN_HEALTH.has(app.health) ? app.health : 'unknown'}`);
    setText(cells.pid, app.pid === undefined ? '' : String(app.pid));
    setText(cells.restarts, String(Math.max(0, app.starts - 1)));
    setText(cells.uptime, this.uptime(app));
    setText(cells.port, app.port === undefined ? '' : String(app.port));
    setText(cells.owner, app.owner);
    setAttr(cells.owner, 'class', app.owner === 'cluster' ? 'owner-cluster' : undefined);
  }

  private uptime(app: AppStatus): string {
    if (app.state !== 'running' || app.lastStartMs === undefined) return '';
    return formatDuration(this.now() - app.lastStartMs);
  }
}
