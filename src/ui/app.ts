// Entry point of the browser UI: wires the agent client, the live event stream and the views
// together, and routes between views by the URL hash (#/apps, #/apps/<name>, #/cluster) so a
// reload keeps what the user was looking at. A link may carry the API token as `#token=<token>`
// (what `make run` prints): it is kept for the tab and removed from the address at once.

import { AgentClient, AgentUnreachableError, ApiError } from './api.js';
import { AppDetail } from './app-detail.js';
import { AppsTable } from './apps-table.js';
import { ClusterView } from './cluster-view.js';
import {
  decodeAgent,
  decodeApps,
  decodeClusterEvent,
  decodeNodes,
  decodeTasks,
  decodeTopology,
  parseJson,
  type AgentInfo,
  type AppStatus,
  type ClusterState,
} from './decode.js';
import { byId, setText } from './dom.js';
import { LiveEvents } from './live-events.js';
import { Banner, MessageArea } from './notices.js';
import { TokenForm } from './token-form.js';

type Route = { readonly tab: 'apps'; readonly app: string | undefined } | { readonly tab: 'cluster' };

const AGENT_RETRY_MS = (attempt: number) => Math.min(30_000, 1000 * 2 ** attempt);

function parseRoute(hash: string): Route {
  const [tab, ...rest] = hash.replace(/^#\/?/, '').split('/');
  if (tab === 'cluster') return { tab: 'cluster' };
  const encoded = rest.join('/');
  if (tab !== 'apps' || encoded === '') return { tab: 'apps', app: undefined };
  try {
    return { tab: 'apps', app: decodeURIComponent(encoded) };
  } catch {
    return { tab: 'apps', app: encoded }; // a hand-typed "%" is still a name worth looking up
  }
}

class Ui {
  private readonly messages = new MessageArea(
    byId('message', HTMLDivElement),
    byId('message-text', HTMLDivElement),
    byId('message-dismiss', HTMLButtonElement),
  );
  private readonly banner = new Banner(byId('banner', HTMLDivElement), location.origin);
  private readonly tokens = new TokenForm(
    byId('token-form', HTMLFormElement),
    byId('token-input', HTMLInputElement),
    byId('token-reason', HTMLParagraphElement),
    byId('token-cancel', HTMLButtonElement),
    sessionStorageOrUndefined(),
  );
  private readonly client = new AgentClient(this.banner, this.tokens, location.origin);
  private readonly table = new AppsTable(
    byId('apps-body', HTMLTableSectionElement),
    byId('apps-empty', HTMLParagraphElement),
    () => Date.now(),
    (name) => (location.hash = `#/apps/${encodeURIComponent(name)}`),
  );
  private readonly detail = new AppDetail(byId('app-detail', HTMLElement), this.client, this.messages, {
    // The agent always requires its token; an older agent may say it does not.
    tokenRequired: () => this.agent?.tokenRequired ?? true,
    onDeleted: () => (location.hash = '#/apps'),
  });
  private readonly cluster = new ClusterView({
    nodes: byId('nodes-body', HTMLTableSectionElement),
    tasks: byId('tasks-body', HTMLTableSectionElement),
    topology: byId('topology', HTMLTableElement),
    topologyEmpty: byId('topology-empty', HTMLParagraphElement),
  });
  private readonly events = new LiveEvents(
    '/appmesh/events',
    {
      apps: (data) => this.onAppsEvent(data),
      cluster: (data) => this.onClusterEvent(data),
      open: () => this.onEventsOpen(),
      error: () => {
        this.eventsFailed = true;
        this.banner.unreachable();
      },
      unauthorized: async (message) => {
        this.banner.reachable();
        this.tokens.forget();
        await this.tokens.ask(message);
        // Reads that failed while no token was known are worth doing again now.
        void this.loadAgent(0, false);
        void this.loadApps();
      },
    },
    () => {
      const token = this.tokens.current();
      return token === undefined ? {} : { authorization: `Bearer ${token}` };
    },
  );

  private agent: AgentInfo | undefined;
  private apps: ReadonlyMap<string, AppStatus> | undefined;
  /** Once the event stream delivered a list, replies to the initial GETs are older and ignored. */
  private appsFromEvents = false;
  private clusterFromEvents = false;
  private lastAppsData = '';
  private lastClusterData = '';
  private clusterState: ClusterState | undefined;
  /** undefined until the agent said which mode it runs in. */
  private clusterAvailable: boolean | undefined;
  private eventsFailed = false;

  start(): void {
    this.adoptTokenFromLink();
    window.addEventListener('hashchange', () => this.route());
    byId('token-forget', HTMLButtonElement).addEventListener('click', () => this.tokens.forget());
    this.tokens.onChange(() => this.renderTokenState());
    this.renderTokenState();
    this.route();
    void this.loadAgent(0, true);
    void this.loadApps();
    this.events.start();
    setInterval(() => {
      if (!document.hidden) this.table.tick();
    }, 1000);
  }

  /** `#token=<token>` (optionally after a route, `#/apps&token=…`): store it, then drop it from the URL. */
  private adoptTokenFromLink(): void {
    const match = /(?:^#|[&?])token=([^&]+)/.exec(location.hash);
    if (match === null) return;
    let token: string;
    try {
      token = decodeURIComponent(match[1] ?? '');
    } catch {
      return;
    }
    if (token !== '') this.tokens.use(token);
    const rest = location.hash.replace(/[&?]?token=[^&]+/, '').replace(/^#&/, '#');
    history.replaceState(null, '', `${location.pathname}${location.search}${rest === '#' ? '#/apps' : rest}`);
  }

  private route(): void {
    const route = parseRoute(location.hash);
    if (route.tab === 'cluster' && this.clusterAvailable === false) {
      location.replace('#/apps'); // fires hashchange, which routes again
      return;
    }
    for (const tab of document.querySelectorAll<HTMLAnchorElement>('a[data-tab]')) {
      if (tab.dataset['tab'] === route.tab) tab.setAttribute('aria-current', 'page');
      else tab.removeAttribute('aria-current');
    }
    byId('apps-view', HTMLElement).hidden = route.tab !== 'apps';
    byId('cluster-view', HTMLElement).hidden = route.tab !== 'cluster';
    const app = route.tab === 'apps' ? route.app : undefined;
    byId('apps-view', HTMLElement).classList.toggle('with-detail', app !== undefined);
    if (app === undefined) this.detail.close();
    else this.detail.open(app, this.apps?.get(app));
    this.table.select(app);
    document.title = app === undefined ? `appmesh · ${route.tab}` : `${app} · appmesh`;
    if (route.tab === 'cluster' && this.clusterAvailable && this.clusterState === undefined) {
      void this.loadCluster();
    }
  }

  private async loadAgent(attempt: number, retry: boolean): Promise<void> {
    try {
      const agent = await this.client.getJson('/appmesh/agent', decodeAgent);
      this.agent = agent;
      this.renderHeader();
      this.setClusterAvailable(agent.mode === 'cluster');
    } catch (error) {
      if (!(error instanceof AgentUnreachableError)) this.messages.show(error, 'Reading the agent info');
      // Without the agent info the page does not know its mode; keep asking until it answers.
      if (retry) setTimeout(() => void this.loadAgent(attempt + 1, true), AGENT_RETRY_MS(attempt));
    }
  }

  private async loadApps(): Promise<void> {
    try {
      const apps = await this.client.getJson('/appmesh/applications', decodeApps);
      if (!this.appsFromEvents) this.showApps(apps);
    } catch (error) {
      // The event stream delivers the list on connect as well, so a failure here is only reported.
      if (!(error instanceof AgentUnreachableError)) this.messages.show(error, 'Reading the apps');
    }
  }

  private async loadCluster(): Promise<void> {
    try {
      const [nodes, tasks, topology] = await Promise.all([
        this.client.getJson('/appmesh/cluster/nodes', decodeNodes),
        this.client.getJson('/appmesh/cluster/tasks', decodeTasks),
        this.client.getJson('/appmesh/cluster/topology', decodeTopology),
      ]);
      if (!this.clusterFromEvents) this.showCluster({ nodes, tasks, topology, leader: this.agent?.leader });
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) this.setClusterAvailable(false);
      else if (!(error instanceof AgentUnreachableError)) this.messages.show(error, 'Reading the cluster');
    }
  }

  private onEventsOpen(): void {
    this.banner.reachable();
    // After an outage the agent may have restarted with another version, mode or token setting.
    if (this.eventsFailed && this.agent !== undefined) void this.loadAgent(0, false);
    this.eventsFailed = false;
  }

  private onAppsEvent(data: string): void {
    // The agent resends the whole list on every change; an identical list is not worth a render.
    if (data === this.lastAppsData) return;
    this.lastAppsData = data;
    try {
      const apps = decodeApps(parseJson(data, 'apps event'));
      this.appsFromEvents = true;
      this.showApps(apps);
    } catch (error) {
      this.messages.show(error, 'Reading the apps event');
    }
  }

  private onClusterEvent(data: string): void {
    if (data === this.lastClusterData) return;
    this.lastClusterData = data;
    try {
      const state = decodeClusterEvent(parseJson(data, 'cluster event'));
      this.clusterFromEvents = true;
      this.setClusterAvailable(true);
      this.showCluster(state);
    } catch (error) {
      this.messages.show(error, 'Reading the cluster event');
    }
  }

  private showApps(apps: readonly AppStatus[]): void {
    this.apps = new Map(apps.map((app) => [app.name, app]));
    this.table.update(apps);
    const open = this.detail.openName;
    if (open !== undefined) this.detail.update(this.apps.get(open));
  }

  private showCluster(state: ClusterState): void {
    this.clusterState = state;
    this.cluster.render(state);
    this.renderHeader();
  }

  private setClusterAvailable(available: boolean): void {
    const changed = this.clusterAvailable !== available;
    this.clusterAvailable = available;
    byId('tab-cluster', HTMLAnchorElement).hidden = !available;
    if (changed) this.route();
  }

  private renderHeader(): void {
    const agent = this.agent;
    if (agent === undefined) return;
    setText(byId('agent-node', HTMLElement), agent.node);
    setText(byId('agent-mode', HTMLElement), agent.mode);
    setText(byId('agent-version', HTMLElement), agent.version ? `v${agent.version}` : '');
    const leader = this.clusterState ? this.clusterState.leader : agent.leader;
    const leaderNode = byId('agent-leader', HTMLElement);
    leaderNode.hidden = agent.mode !== 'cluster';
    setText(leaderNode, leader === undefined ? 'no leader' : `leader ${leader}`);
  }

  private renderTokenState(): void {
    byId('token-forget', HTMLButtonElement).hidden = this.tokens.current() === undefined;
  }
}

function sessionStorageOrUndefined(): Storage | undefined {
  try {
    return window.sessionStorage;
  } catch {
    return undefined; // blocked by the browser's privacy settings
  }
}

new Ui().start();
