// The README's own example: `appmesh apply -f manifests/examples/ --wait` against a cluster shaped like
// `make run`'s (three agents n1..n3 with hack/dev-cluster.sh's labels). Every ClusterTask in the examples,
// the periodic `uptime-report` included, must become ready before the timeout.
import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { CLI } from '../fixtures/agent.js';
import { useCluster } from '../fixtures/cluster.js';

const EXAMPLES = resolve(fileURLToPath(import.meta.url), '../../../../manifests/examples');

describe('manifests/examples/ on a make-run-shaped cluster (Consul + three agents)', function () {
  this.timeout(240_000);
  const cluster = useCluster({
    nodes: {
      n1: ['--label', 'zone=east', '--label', 'tier=web-1'],
      n2: ['--label', 'zone=east', '--label', 'tier=web-2'],
      n3: ['--label', 'zone=west', '--label', 'tier=db-1'],
    },
  });
  let dir = '';

  before(async function () {
    dir = await mkdtemp(join(tmpdir(), 'appmesh-examples-e2e-'));
    cluster.trackArgv(['sleep', '86400']);
  });

  after(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  it('apply -f manifests/examples/ --wait returns once every task is ready, the periodic one included', async function () {
    const n1 = cluster.agents.get('n1');
    if (n1 === undefined) throw new Error('agent n1 is not running');
    const tokenFile = join(dir, 'n1.token');
    await writeFile(tokenFile, n1.token, { mode: 0o600 });
    const result = await execa(
      'node',
      [
        CLI,
        '--consul-addr',
        cluster.consul.address,
        '--agent',
        n1.url,
        '--agent-token-file',
        tokenFile,
        'apply',
        '-f',
        EXAMPLES,
        '--wait',
        '--timeout',
        '90s',
      ],
      { reject: false, stdin: 'ignore' },
    );
    const output = `${result.stdout}\n${result.stderr}`;
    expect(result.exitCode, output).to.equal(0);
    for (const task of ['edge-worker', 'cache', 'uptime-report', 'web']) {
      expect(result.stderr, output).to.match(
        new RegExp(`clustertask/${task}: ready \\(\\d+/\\d+ running and passing\\)`),
      );
    }
    // The periodic replica is ready because a run exited 0, not because a process happens to be up.
    const status = await cluster.status('uptime-report');
    expect(status?.scheduled).to.equal(1);
    for (const task of ['edge-worker', 'cache', 'uptime-report', 'web']) await cluster.deleteTask(task);
  });
});
