// The kubectl-style CLI against a real cluster: one real Consul and two real agents. `apply --wait`
// returns once the replicas run and pass, times out naming what is missing when they cannot be placed,
// and `get` / `describe` show what the agents report.
import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { CLI } from '../fixtures/agent.js';
import { useCluster } from '../fixtures/cluster.js';

describe('cli against a real cluster (Consul + two agents)', function () {
  this.timeout(180_000);
  const cluster = useCluster({
    nodes: { c1: ['--label', 'zone=east'], c2: ['--label', 'zone=west'] },
    agentEnv: { APPMESH_LOG_LEVEL: 'info' },
  });
  let dir = '';

  const cli = (...args: string[]) =>
    execa('node', [CLI, ...args, '--consul-addr', cluster.consul.address], {
      reject: false,
      stdin: 'ignore',
    });

  async function manifest(name: string, text: string): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, text);
    return path;
  }

  before(async function () {
    dir = await mkdtemp(join(tmpdir(), 'appmesh-cli-e2e-'));
    cluster.trackArgv(['sleep', '4711']);
  });

  after(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  it('apply --wait returns when every replica runs and passes', async function () {
    const file = await manifest(
      'spread.yaml',
      'apiVersion: appmesh/v1\nkind: ClusterTask\nmetadata: { name: spread }\nspec: { replication: 2, content: { command: "sleep 4711" } }\n',
    );
    const result = await cli('apply', '-f', file, '--wait', '--timeout', '60s');
    expect(result.exitCode, `${result.stdout}\n${result.stderr}`).to.equal(0);
    expect(result.stdout).to.contain('clustertask/spread created');
    expect(result.stderr).to.contain('clustertask/spread: ready (2/2 running and passing)');

    const table = await cli('get', 'tasks', 'spread');
    expect(table.stdout.split('\n')[1]).to.match(/^spread\s+2\s+2\s+2\s+2\s+-\s+-\s+c1,c2\s+\d+s$/);
    const nodes = await cli('get', 'nodes', '-o', 'json');
    expect((JSON.parse(nodes.stdout) as { name: string }[]).map((n) => n.name)).to.deep.equal(['c1', 'c2']);

    const described = await cli('describe', 'task', 'spread');
    expect(described.exitCode, described.stderr).to.equal(0);
    expect(described.stdout).to.match(/c1\s+\d+s\s+running\s+healthy\s+\d+\s+0/);
    expect(described.stdout).to.match(/c2\s+\d+s\s+running\s+healthy\s+\d+\s+0/);
  });

  it('apply --wait times out naming what is missing when replicas cannot be placed', async function () {
    const file = await manifest(
      'nowhere.yaml',
      'apiVersion: appmesh/v1\nkind: ClusterTask\nmetadata: { name: nowhere }\nspec: { replication: 1, condition: { zone: north }, content: { command: "sleep 4711" } }\n',
    );
    const result = await cli('apply', '-f', file, '--wait', '--timeout', '4s');
    expect(result.exitCode).to.equal(1);
    const lastLine = result.stderr.trim().split('\n').at(-1) ?? '';
    expect(lastLine).to.match(
      /^error: timed out after 4s waiting for clustertask\/nowhere: scheduled 0\/1, running 0\/1, passing 0\/1/,
    );
  });
});
