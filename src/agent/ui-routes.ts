// What the web UI needs from the agent: its static page under /ui/ (built by `make build` into
// dist/src/ui, served from memory, nothing from outside), who the agent is, a server-sent event stream
// of the apps (and, in cluster mode, of the cluster view), and the read-only cluster API.
import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  asyncScheduler,
  EMPTY,
  map,
  merge,
  shareReplay,
  startWith,
  throttleTime,
  type Observable,
} from 'rxjs';
import type { ClusterSnapshot, ClusterView } from './cluster-view.js';
import { HttpError, type Reply, type Route, type ServerEvent } from './http-server.js';

export interface UiRoutesDeps {
  readonly node: string;
  readonly version: string;
  readonly tokenRequired: boolean;
  /** The body of `GET /appmesh/applications`. */
  readonly apps: () => unknown;
  /** Fires whenever an app was added, removed or changed state. */
  readonly appChanges: Observable<unknown>;
  /** Cluster mode only. */
  readonly cluster?: ClusterView;
  /** Where the built page is (default: dist/src/ui, beside this module's directory). */
  readonly assetsDir?: string;
}

/** At most 10 events a second per stream and kind: 200 apps flapping must not flood a browser. */
const EVENT_THROTTLE_MS = 100;

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** The page loads nothing from anywhere but the agent, and runs no inline script. */
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

const ASSET_NAME = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.(html|js|css|svg)$/;

export function uiRoutes(deps: UiRoutesDeps): Route[] {
  const assetsDir = deps.assetsDir ?? fileURLToPath(new URL('../ui/', import.meta.url));
  const assets = new Map<string, Buffer>();
  const asset = async (name: string): Promise<Reply> => {
    if (!ASSET_NAME.test(name)) throw new HttpError(404, `no such file: /ui/${name}`);
    let content = assets.get(name);
    if (content === undefined) {
      try {
        content = await readFile(join(assetsDir, name));
      } catch {
        throw new HttpError(
          404,
          name === 'index.html'
            ? `the web UI is not built (no ${join(assetsDir, name)}); run make build`
            : `no such file: /ui/${name}`,
        );
      }
      assets.set(name, content);
    }
    const type = CONTENT_TYPES[extname(name)] ?? 'application/octet-stream';
    return { status: 200, body: content, headers: { ...PAGE_HEADERS, 'content-type': type } };
  };

  const cluster = (): ClusterView => {
    if (deps.cluster === undefined) {
      throw new HttpError(404, 'not in cluster mode: this agent has no Consul configured');
    }
    return deps.cluster;
  };
  const snapshot = async (): Promise<ClusterSnapshot> => {
    try {
      return await cluster().current();
    } catch (err) {
      if (err instanceof HttpError) throw err;
      throw new HttpError(503, (err as Error).message);
    }
  };

  // One throttled, serialized stream per kind, shared by every client: 32 streams cost one
  // JSON.stringify per change, not 32. A client that joins gets the latest event replayed (the
  // trailing throttle makes it current), then every later one; nothing runs while nobody listens.
  const serialized = (event: string) =>
    map((data: unknown): ServerEvent => ({ event, data, json: JSON.stringify(data) }));
  const sharedApps = deps.appChanges.pipe(
    startWith(undefined),
    throttleTime(EVENT_THROTTLE_MS, asyncScheduler, { leading: true, trailing: true }),
    map(() => deps.apps()),
    serialized('apps'),
    shareReplay({ bufferSize: 1, refCount: true }),
  );
  const sharedCluster =
    deps.cluster === undefined
      ? EMPTY
      : deps.cluster.snapshots.pipe(
          throttleTime(EVENT_THROTTLE_MS, asyncScheduler, { leading: true, trailing: true }),
          serialized('cluster'),
          shareReplay({ bufferSize: 1, refCount: true }),
        );
  const events = (): Observable<ServerEvent> => merge(sharedApps, sharedCluster);

  return [
    // The page and its files are open (a browser loads them without a header; they hold no data).
    // Everything the page then reads needs the token.
    { method: 'GET', path: '/', access: 'open', handle: () => redirect('/ui/') },
    { method: 'GET', path: '/ui', access: 'open', handle: () => redirect('/ui/') },
    { method: 'GET', path: '/ui/', access: 'open', handle: () => asset('index.html') },
    {
      method: 'GET',
      path: '/ui/:file',
      access: 'open',
      handle: ({ params }) => asset(params['file'] ?? ''),
    },
    {
      method: 'GET',
      path: '/appmesh/agent',
      access: 'token',
      handle: async () => {
        let leader: string | null | undefined;
        if (deps.cluster !== undefined)
          leader = (await deps.cluster.current().catch(() => undefined))?.leader;
        return {
          status: 200,
          body: {
            node: deps.node,
            mode: deps.cluster === undefined ? 'standalone' : 'cluster',
            version: deps.version,
            tokenRequired: deps.tokenRequired,
            ...(leader ? { leader } : {}),
          },
        };
      },
    },
    {
      method: 'GET',
      path: '/appmesh/events',
      access: 'token',
      handle: () => ({ status: 200, events: events() }),
    },
    {
      method: 'GET',
      path: '/appmesh/cluster/nodes',
      access: 'token',
      handle: async () => ({ status: 200, body: (await snapshot()).nodes }),
    },
    {
      method: 'GET',
      path: '/appmesh/cluster/tasks',
      access: 'token',
      handle: async () => ({ status: 200, body: (await snapshot()).tasks }),
    },
    {
      method: 'GET',
      path: '/appmesh/cluster/topology',
      access: 'token',
      handle: async () => ({ status: 200, body: (await snapshot()).topology }),
    },
  ];
}

function redirect(location: string): Reply {
  return { status: 302, headers: { location } };
}
