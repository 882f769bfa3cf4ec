// The shipped Grafana dashboard reads one scrape job at a time, so an agent scraped by both the static
// and the Consul-discovery job (manifests/prometheus-*.yml) is never counted twice.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const DASHBOARD = resolve(fileURLToPath(import.meta.url), '../../../../manifests/grafana-dashboard.json');

interface Dashboard {
  templating: { list: { name: string; multi?: boolean; includeAll?: boolean }[] };
  panels: { title: string; targets?: { expr: string }[] }[];
}

describe('grafana dashboard', function () {
  it('selects one job (no multi-select, no All) and filters every appmesh series by it', async function () {
    const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as Dashboard;
    const job = dashboard.templating.list.find((variable) => variable.name === 'job');
    expect(job).to.include({ multi: false, includeAll: false });
    const exprs = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr));
    expect(exprs.length).to.be.greaterThan(10);
    for (const expr of exprs) {
      const selectors = [...expr.matchAll(/\bappmesh_[a-z_]+(\{[^}]*\})?/g)];
      expect(selectors, expr).to.not.deep.equal([]);
      for (const [selector, labels] of selectors)
        expect(labels ?? '', selector).to.match(/^\{job="\$job"[,}]/);
    }
  });
});
