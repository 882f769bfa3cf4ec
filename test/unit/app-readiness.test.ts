// Readiness: what `passing` means for an app, long-running or periodic, from the supervisor's status to the
// node report entry and back to the counts `apply --wait` judges by.
import { expect } from 'chai';
import type { AppSpec } from '../../api/app.js';
import type { KvEntry } from '../../api/consul.js';
import { AppName } from '../../api/names.js';
import { readReportedApp, reportedApp } from '../../controllers/reported-app.js';
import { clusterStateFromEntries } from '../../src/cli/cluster-state.js';
import { taskView } from '../../src/cli/cluster-views.js';
import { progressLine } from '../../src/cli/wait-for-tasks.js';
import { appIsReady, type AppStatus } from '../../src/process/app-status.js';

const base: AppStatus = {
  name: 'job',
  state: 'waiting',
  pid: undefined,
  starts: 0,
  last_start_time: undefined,
  last_exit_time: undefined,
  return_code: undefined,
  health: 'unknown',
  rss_bytes: undefined,
  cpu_seconds: undefined,
  next_start_time: '2026-01-01T00:01:00.000Z',
  last_error: undefined,
};
const ranOk: Partial<AppStatus> = {
  starts: 1,
  last_start_time: '2026-01-01T00:00:00.000Z',
  last_exit_time: '2026-01-01T00:00:01.000Z',
  return_code: 0,
  health: 'healthy',
};

describe('app readiness', function () {
  it('a long-running app is ready while running and healthy, and only then', function () {
    expect(appIsReady({ ...base, state: 'running', health: 'healthy' }, false)).to.equal(true);
    expect(appIsReady({ ...base, state: 'running', health: 'unhealthy' }, false)).to.equal(false);
    expect(appIsReady({ ...base, state: 'backoff', health: 'unhealthy' }, false)).to.equal(false);
  });

  it('a periodic app is not ready before its first run has finished', function () {
    expect(appIsReady(base, true)).to.equal(false);
    expect(appIsReady({ ...base, state: 'running', health: 'healthy' }, true)).to.equal(false);
  });

  it('a periodic app whose last run exited 0 is ready between runs and during the next one', function () {
    expect(appIsReady({ ...base, ...ranOk }, true)).to.equal(true);
    expect(appIsReady({ ...base, ...ranOk, state: 'running' }, true)).to.equal(true);
  });

  it('a periodic app is not ready after a failed run, with nothing scheduled, or with a failing check', function () {
    expect(appIsReady({ ...base, ...ranOk, return_code: 3, health: 'unhealthy' }, true)).to.equal(false);
    expect(appIsReady({ ...base, ...ranOk, next_start_time: undefined }, true)).to.equal(false);
    expect(appIsReady({ ...base, ...ranOk, state: 'disabled', next_start_time: undefined }, true)).to.equal(
      false,
    );
    expect(appIsReady({ ...base, ...ranOk, health: 'unhealthy' }, true)).to.equal(false);
  });

  it('reports readiness in the node report entry, and reads entries of older agents by running + healthy', function () {
    const name = 'job';
    if (!AppName.is(name)) throw new Error('"job" should be a valid app name');
    const periodic: AppSpec = { name, command: 'uptime', start_interval_seconds: 60 };
    expect(reportedApp('cluster', periodic, { ...base, ...ranOk })).to.deep.equal({
      owner: 'cluster',
      state: 'waiting',
      health: 'healthy',
      ready: true,
    });
    expect(reportedApp('cluster', periodic, undefined).ready).to.equal(false);
    expect(readReportedApp({ owner: 'cluster', state: 'running', health: 'healthy' })?.ready).to.equal(true);
    expect(readReportedApp({ state: 'waiting', health: 'healthy' })?.ready).to.equal(false);
    expect(readReportedApp('garbage')).to.equal(undefined);
  });

  it('apply --wait counts a ready periodic replica between runs as running and passing', function () {
    const entry = (key: string, value: unknown): KvEntry => ({
      key: `appmesh/cluster/${key}`,
      value: JSON.stringify(value),
      createIndex: 1,
      modifyIndex: 1,
      lockIndex: 0,
      flags: 0,
    });
    const node = (apps: Record<string, unknown>) => ({
      appmesh: 'http://127.0.0.1:6061',
      label: {},
      leader: false,
      resource: { cpu_cores: 1, mem_total_bytes: 1, mem_free_bytes: 1 },
      apps,
      version: '0',
    });
    const state = clusterStateFromEntries('appmesh', [
      entry('tasks/job', { replication: 2, content: { command: 'uptime', start_interval_seconds: 60 } }),
      entry('status/job', { desired: 2, scheduled: 2, nodes: ['n1', 'n2'], unschedulable: 0, reasons: [] }),
      entry('topology/n1', [{ app: 'job', schedule_time: '2026-01-01T00:00:00Z' }]),
      entry('topology/n2', [{ app: 'job', schedule_time: '2026-01-01T00:00:00Z' }]),
      entry(
        'nodes/n1',
        node({ job: { owner: 'cluster', state: 'waiting', health: 'healthy', ready: true } }),
      ),
      entry(
        'nodes/n2',
        node({ job: { owner: 'cluster', state: 'running', health: 'healthy', ready: false } }),
      ),
    ]);
    const view = taskView(state, 'job');
    expect(view && { running: view.running, passing: view.passing }).to.deep.equal({
      running: 2,
      passing: 1,
    });
    expect(progressLine({ name: 'job', replication: 2 }, view)).to.equal(
      'clustertask/job: scheduled 2/2, running 2/2, passing 1/2',
    );
  });
});
