// The polling baseline (issue 8): an agent configured like App Manager's documented defaults, topology
// polled every 5 s and status reported every 10 s, must still converge. hack/bench measures how much
// slower and chattier it is than blocking watches; this only guards that the mode works at all.
import { expect } from 'chai';
import { useCluster } from '../fixtures/cluster.js';
import { eventually } from '../fixtures/eventually.js';

describe('agent polling instead of blocking (APPMESH_POLL_INTERVAL, APPMESH_REPORT_INTERVAL)', function () {
  this.timeout(120_000);
  const cluster = useCluster({
    nodes: { p1: [] },
    agentEnv: { APPMESH_LOG_LEVEL: 'info', APPMESH_POLL_INTERVAL: '5s', APPMESH_REPORT_INTERVAL: '10s' },
  });

  it('runs a task put in KV within a few poll intervals', async function () {
    cluster.trackArgv(['sleep', '5191']);
    const started = Date.now();
    await cluster.putTask('polled', { replication: 1, content: { command: 'sleep 5191' } });
    // Two polls in series (the scheduler's of the tasks, the applier's of the topology), started in about the
    // same phase, so expect close to 10 s. The bound is a guard against hangs, not a benchmark.
    const nodes = await eventually(
      'the task running on p1',
      async () => {
        const running = await cluster.runningOn('polled');
        return running.length === 1 ? running : undefined;
      },
      25_000,
      100,
    );
    expect(nodes).to.deep.equal(['p1']);
    console.log(`      polled task ran after ${Date.now() - started} ms`);
  });
});
