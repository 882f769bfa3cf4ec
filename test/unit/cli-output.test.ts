// Golden tests of `get` and `describe` output: a fixed cluster (test/fixtures/golden/cluster-kv.json) at
// a fixed time renders exactly as the files beside it. UPDATE_GOLDEN=1 rewrites them after a deliberate change.
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KvEntry } from '../../api/consul.js';
import { clusterStateFromEntries, type ClusterState } from '../../src/cli/cluster-state.js';
import { describeTaskText } from '../../src/cli/describe-command.js';
import { renderResource, type ClusterResource } from '../../src/cli/get-command.js';
import type { ClusterOutputFormat } from '../../src/cli/cluster-output.js';

const GOLDEN = resolve(fileURLToPath(import.meta.url), '../../../../test/fixtures/golden');
const NOW = Date.parse('2026-01-01T12:00:00.000Z');

function fixtureState(): ClusterState {
  const raw = JSON.parse(readFileSync(join(GOLDEN, 'cluster-kv.json'), 'utf8')) as Record<
    string,
    { value: unknown; session?: string }
  >;
  const entries: KvEntry[] = Object.entries(raw).map(([key, entry], index) => ({
    key,
    value: JSON.stringify(entry.value),
    flags: 0,
    createIndex: index + 1,
    modifyIndex: index + 1,
    lockIndex: 0,
    ...(entry.session !== undefined ? { session: entry.session } : {}),
  }));
  return clusterStateFromEntries('appmesh', entries);
}

function expectGolden(file: string, actual: string): void {
  const path = join(GOLDEN, file);
  if (process.env['UPDATE_GOLDEN'] === '1') writeFileSync(path, `${actual}\n`);
  expect(actual).to.equal(readFileSync(path, 'utf8').replace(/\n$/, ''), `golden file ${file}`);
}

describe('cli output (golden)', function () {
  const state = fixtureState();
  const resources: ClusterResource[] = ['tasks', 'nodes', 'topology'];
  const formats: ClusterOutputFormat[] = ['table', 'wide', 'json', 'yaml'];

  for (const resource of resources) {
    for (const format of formats) {
      it(`prints ${resource} as ${format}`, function () {
        expectGolden(`${resource}.${format}.txt`, renderResource(state, resource, undefined, format, NOW));
      });
    }
  }

  it('prints one task as an object in JSON', function () {
    expectGolden('task-web.json.txt', renderResource(state, 'tasks', 'web', 'json', NOW));
  });

  it('names a task that does not exist', function () {
    expect(() => renderResource(state, 'tasks', 'nope', 'table', NOW)).to.throw('clustertask/nope not found');
  });

  it('counts only running cluster replicas, and only healthy ones as passing', function () {
    const table = renderResource(state, 'tasks', 'web', 'table', NOW);
    expect(table.split('\n')[1]).to.match(/^web\s+3\s+2\s+2\s+1\s/);
  });

  it('describes a task with each replica’s pid and restarts from the node reports, calling no agent', function () {
    // n1 reports pid and restarts; n2 is an agent from before they were reported: shown as "-".
    expectGolden('describe-web.txt', describeTaskText(state, 'web', 'appmesh', NOW));
  });

  it('reports a task value that does not decode instead of failing', function () {
    const wide = renderResource(state, 'tasks', 'broken', 'wide', NOW);
    expect(wide).to.contain('replication');
  });
});
