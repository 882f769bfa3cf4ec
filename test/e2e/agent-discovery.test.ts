// Prometheus finds the agents through Consul: each real agent registers `appmesh-agent` with its
// advertised address and port (not port 0 and no address, as before) and the scheme and metrics path in
// its service meta, and GET <scheme>://<address>:<port><metrics_path> answers 200 with the series the
// shipped Grafana dashboard queries.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { request } from 'undici';
import { useCluster } from '../fixtures/cluster.js';
import { eventually } from '../fixtures/eventually.js';

const DASHBOARD = resolve(fileURLToPath(import.meta.url), '../../../../manifests/grafana-dashboard.json');

interface CatalogService {
  readonly ServiceID: string;
  readonly ServiceAddress: string;
  readonly ServicePort: number;
  readonly ServiceMeta?: Record<string, string>;
}

describe('agent discovery for Prometheus (real Consul, two agents)', function () {
  this.timeout(120_000);
  const cluster = useCluster({ nodes: { n1: [], n2: ['--no-main'] } });

  async function registrations(): Promise<CatalogService[]> {
    const response = await request(`${cluster.consul.address}/v1/catalog/service/appmesh-agent`);
    const text = await response.body.text();
    expect(response.statusCode, text).to.equal(200);
    return JSON.parse(text) as CatalogService[];
  }

  it("registers appmesh-agent with each agent's advertised address, port, scheme and metrics path", async function () {
    const found = await eventually(
      'two appmesh-agent registrations',
      async () => {
        const all = await registrations();
        return all.length === 2 ? all : undefined;
      },
      20_000,
      100,
    );
    for (const node of ['n1', 'n2']) {
      const agent = cluster.agents.get(node);
      expect(agent, node).to.not.equal(undefined);
      const url = new URL(agent?.url ?? '');
      const entry = found.find((service) => service.ServiceID === `appmesh-agent-${node}`);
      expect(entry, node).to.not.equal(undefined);
      expect(entry?.ServiceAddress, node).to.equal(url.hostname);
      expect(entry?.ServicePort, node).to.equal(Number(url.port));
      expect(entry?.ServiceMeta, node).to.deep.equal({ node, scheme: 'http', metrics_path: '/metrics' });
    }
  });

  it('serves /metrics with 200 at the registered address, with every series the dashboard queries', async function () {
    const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as {
      panels: { targets?: { expr: string }[] }[];
    };
    const queried = new Set(
      dashboard.panels
        .flatMap((panel) => panel.targets ?? [])
        .flatMap((target) =>
          [...target.expr.matchAll(/\b(appmesh_[a-z_]+?)(?:_bucket)?\{/g)].map((m) => m[1] ?? ''),
        ),
    );
    expect(queried.size).to.be.greaterThan(5);
    // Scheduler series exist on main-eligible agents only, so the union of the agents' series is compared.
    const announced = new Set<string>();
    for (const entry of await registrations()) {
      const scheme = entry.ServiceMeta?.['scheme'] ?? '?';
      const path = entry.ServiceMeta?.['metrics_path'] ?? '?';
      const response = await request(`${scheme}://${entry.ServiceAddress}:${entry.ServicePort}${path}`);
      const text = await response.body.text();
      expect(response.statusCode, entry.ServiceID).to.equal(200);
      // Series that have no sample yet are announced by their TYPE line.
      for (const match of text.matchAll(/^# TYPE (\S+) /gm)) announced.add(match[1] ?? '');
    }
    const missing = [...queried].filter((name) => !announced.has(name));
    expect(missing, 'series the dashboard queries that no agent exports').to.deep.equal([]);
  });
});
