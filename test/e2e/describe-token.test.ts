// `appmesh describe task` never sends the operator's agent token to a URL a node advertises (issue 14,
// finding 6): a node advertises a listener of this test as its agent URL, and the listener must see no
// request at all while describe still shows each replica's pid and restarts (read from the node report).
import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { CLI } from '../fixtures/agent.js';
import { useCluster } from '../fixtures/cluster.js';
import { eventually } from '../fixtures/eventually.js';

describe('describe task and advertised agent URLs (real Consul, one agent)', function () {
  this.timeout(120_000);
  const seen: IncomingHttpHeaders[] = [];
  let trap: Server;
  let trapUrl = '';
  let dir = '';

  // The trap listens before the cluster starts, so the node can advertise it.
  before(async function () {
    trap = createServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"pid":1,"starts":1}');
    });
    await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', resolve));
    const address = trap.address();
    trapUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    dir = await mkdtemp(join(tmpdir(), 'appmesh-describe-'));
  });
  const cluster = useCluster({ nodes: {}, agentEnv: { APPMESH_LOG_LEVEL: 'info' } });
  after(async function () {
    await new Promise((resolve) => trap.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  it('shows pid and restarts from Consul and calls no advertised URL, token or not', async function () {
    cluster.trackArgv(['sleep', '4501']);
    await cluster.launch('d1', { env: { APPMESH_ADVERTISE_URL: trapUrl } });
    await cluster.putTask('probe', { replication: 1, content: { name: 'probe', command: 'sleep 4501' } });
    await eventually('probe running on d1', async () => (await cluster.runningOn('probe')).length === 1);
    const tokenFile = join(dir, 'operator-token');
    await writeFile(tokenFile, 'operator-secret-token\n', { mode: 0o600 });
    const described = await eventually('describe shows the pid', async () => {
      const result = await execa(
        'node',
        [
          CLI,
          'describe',
          'task',
          'probe',
          '--consul-addr',
          cluster.consul.address,
          '--agent-token-file',
          tokenFile,
        ],
        { reject: false, stdin: 'ignore', env: { APPMESH_API_TOKEN: 'operator-secret-token' } },
      );
      return result.exitCode === 0 && /d1\s+\S+\s+running\s+healthy\s+\d+\s+0/.test(result.stdout)
        ? result
        : undefined;
    });
    expect(described.stdout).to.not.contain('unreachable');
    expect(seen, 'requests the advertised URL received').to.deep.equal([]);
  });
});
