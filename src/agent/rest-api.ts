// The REST API over local apps (App Mesh paths): list, get, put, delete, enable/disable/restart,
// output, health and (cluster mode) peers. Bodies are decoded with the App codec; mistakes answer 4xx
// with the field paths. Everything needs the API token but health and peers, which carry no secret.
import { isLeft } from 'fp-ts/lib/Either.js';
import { decodeAppSpec, type AppSpec } from '../../api/app.js';
import type { AppSupervisor, DesiredApps } from '../../controllers/app-supervisor.js';
import { HttpError, type Route } from './http-server.js';
import type { LocalAppStore } from './local-apps.js';

export interface RestApiDeps {
  readonly store: LocalAppStore;
  readonly supervisor: AppSupervisor;
  /** Every desired app on this host with its owner (local store and cluster). */
  readonly desired: () => DesiredApps;
  /** Cluster mode: the other passing instances of an app's service; undefined for an app without one. */
  readonly peers?: (name: string) => string[] | undefined;
}

/** An app as the API shows it: its spec, owner and status; undefined when no such app is desired. */
export function appView(
  deps: Pick<RestApiDeps, 'desired' | 'supervisor'>,
  name: string,
): Record<string, unknown> | undefined {
  const desired = deps.desired().get(name);
  if (!desired) return undefined;
  const { name: _ignored, ...status } = deps.supervisor.status(name) ?? { name, state: 'pending' };
  return { ...desired.spec, owner: desired.owner, ...status };
}

/** Every desired app, sorted by name, as `GET /appmesh/applications` lists them. */
export function appViews(deps: Pick<RestApiDeps, 'desired' | 'supervisor'>): Array<Record<string, unknown>> {
  const views: Array<Record<string, unknown>> = [];
  for (const name of [...deps.desired().keys()].sort()) {
    const view = appView(deps, name);
    if (view) views.push(view);
  }
  return views;
}

export function restApiRoutes(deps: RestApiDeps): Route[] {
  const { store, supervisor } = deps;
  const view = (name: string) => appView(deps, name);

  const requireLocal = (name: string): AppSpec => {
    const desired = deps.desired().get(name);
    if (desired?.owner === 'cluster') {
      throw new HttpError(409, `app ${name} is placed here by the cluster; change its ClusterTask instead`);
    }
    const spec = store.get(name);
    if (!spec) throw new HttpError(404, `no app named ${name}`);
    return spec;
  };

  const setEnabled = async (name: string, status: 0 | 1) => {
    const spec = requireLocal(name);
    if (spec.status !== status) await store.put({ ...spec, status });
    return { status: 200, body: view(name) };
  };

  return [
    {
      method: 'GET',
      path: '/appmesh/applications',
      access: 'token',
      handle: () => ({ status: 200, body: appViews(deps) }),
    },
    {
      method: 'GET',
      path: '/appmesh/app/:name',
      access: 'token',
      handle: ({ params }) => {
        const app = view(params['name'] ?? '');
        if (!app) throw new HttpError(404, `no app named ${params['name']}`);
        return { status: 200, body: app };
      },
    },
    {
      method: 'PUT',
      path: '/appmesh/app/:name',
      access: 'token',
      handle: async ({ params, body }) => {
        const name = params['name'] ?? '';
        if (typeof body !== 'object' || body === null || Array.isArray(body)) {
          throw new HttpError(400, 'expected a JSON object with the app spec');
        }
        const given = (body as Record<string, unknown>)['name'];
        if (given !== undefined && given !== name) {
          throw new HttpError(400, `name: the body says ${JSON.stringify(given)} but the path says ${name}`);
        }
        const decoded = decodeAppSpec({ ...body, name }, `app "${name}"`);
        if (isLeft(decoded)) throw new HttpError(400, `app "${name}" is not valid`, decoded.left.problems);
        if (deps.desired().get(name)?.owner === 'cluster') {
          throw new HttpError(409, `app ${name} is placed here by the cluster; choose another name`);
        }
        const existed = store.get(name) !== undefined;
        await store.put(decoded.right.spec);
        return {
          status: existed ? 200 : 201,
          body: { ...decoded.right.spec, warnings: decoded.right.warnings },
        };
      },
    },
    {
      method: 'DELETE',
      path: '/appmesh/app/:name',
      access: 'token',
      handle: async ({ params }) => {
        const name = params['name'] ?? '';
        requireLocal(name);
        await store.delete(name);
        return { status: 200, body: { deleted: name } };
      },
    },
    {
      method: 'POST',
      path: '/appmesh/app/:name/enable',
      access: 'token',
      handle: ({ params }) => setEnabled(params['name'] ?? '', 1),
    },
    {
      method: 'POST',
      path: '/appmesh/app/:name/disable',
      access: 'token',
      handle: ({ params }) => setEnabled(params['name'] ?? '', 0),
    },
    {
      method: 'POST',
      path: '/appmesh/app/:name/restart',
      access: 'token',
      handle: async ({ params }) => {
        const name = params['name'] ?? '';
        if (!(await supervisor.restart(name))) throw new HttpError(404, `no app named ${name}`);
        return { status: 200, body: view(name) };
      },
    },
    {
      method: 'GET',
      path: '/appmesh/app/:name/output',
      access: 'token',
      handle: ({ params, query }) => {
        const name = params['name'] ?? '';
        const offsetText = query.get('offset');
        const offset = offsetText === null ? undefined : Number(offsetText);
        if (offset !== undefined && (!Number.isInteger(offset) || offset < 0)) {
          throw new HttpError(400, `offset: expected a whole number >= 0, got ${JSON.stringify(offsetText)}`);
        }
        const chunk = supervisor.output(name, offset);
        if (!chunk) throw new HttpError(404, `no app named ${name}`);
        return {
          status: 200,
          body: chunk.lines.map((line) => `${line}\n`).join(''),
          headers: {
            'x-output-position': String(chunk.nextOffset),
            'x-output-truncated': String(chunk.truncated),
          },
        };
      },
    },
    {
      method: 'GET',
      path: '/appmesh/app/:name/health',
      // Open: Consul's HTTP checks call it without a token, and it tells only healthy or not.
      access: 'open',
      handle: ({ params }) => {
        const healthy = supervisor.healthy(params['name'] ?? '');
        if (healthy === undefined) throw new HttpError(404, `no app named ${params['name']}`);
        // Consul checks read this: the body must only change when the health does (a changed check
        // output is a catalog write that wakes every watcher of the service).
        return healthy ? { status: 200, body: 'healthy\n' } : { status: 503, body: 'unhealthy\n' };
      },
    },
    {
      method: 'GET',
      path: '/appmesh/app/:name/peers',
      // Open: apps ask for their peers without the agent's token; it lists only the addresses of
      // passing instances, which Consul's catalog and DNS already tell anyone who asks.
      access: 'open',
      handle: ({ params }) => {
        const name = params['name'] ?? '';
        if (deps.peers === undefined) {
          throw new HttpError(404, 'peers are known in cluster mode only; configure consul to use them');
        }
        if (deps.desired().get(name) === undefined) throw new HttpError(404, `no app named ${name}`);
        const peers = deps.peers(name);
        if (peers === undefined) throw new HttpError(404, `app ${name} has no port, so it has no peers`);
        return { status: 200, body: peers };
      },
    },
  ];
}
