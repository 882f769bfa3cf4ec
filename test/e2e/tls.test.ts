// Agents and the CLI against Consul's HTTPS listener, with a CA the test makes: the server certificate is
// verified, a wrong CA or a missing client certificate stops `appmesh agent` at start with one clear
// line, and client certificates work when Consul requires them. Consul merely down does not stop it.
import { expect } from 'chai';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { request } from 'undici';
import { Consul } from '../../src/consul/consul.js';
import { freePort, startConsul, type ConsulFixture } from '../fixtures/consul.js';
import {
  CLI,
  makeDataDir,
  pidsRunning,
  removeDataDir,
  startAgent,
  type AgentProcess,
} from '../fixtures/agent.js';
import { eventually } from '../fixtures/eventually.js';
import { createTestPki, type TestPki } from '../fixtures/tls.js';

interface AppView {
  readonly name: string;
  readonly owner: string;
  readonly state: string;
}

/** The `sleep` argument of this suite's task, so its processes can be found and cleaned up. */
const SLEEP = '5301';

describe('TLS to Consul (real Consul over HTTPS, real agents)', function () {
  this.timeout(120_000);
  let pki: TestPki;
  /** HTTPS without client certificates. */
  let consul: ConsulFixture;
  /** HTTPS that requires a client certificate (verify_incoming). */
  let mtlsConsul: ConsulFixture;
  /** Plain HTTP to `consul`, to look at what the agents wrote. */
  let kv: Consul;
  let mtlsKv: Consul;
  const agents: AgentProcess[] = [];
  const dataDirs: string[] = [];

  const httpsAddress = (fixture: ConsulFixture): string => {
    if (fixture.httpsAddress === undefined) throw new Error('the Consul fixture was started without tls');
    return fixture.httpsAddress;
  };

  async function dataDir(): Promise<string> {
    const dir = await makeDataDir();
    dataDirs.push(dir);
    return dir;
  }

  async function launch(args: readonly string[], env: Record<string, string> = {}): Promise<AgentProcess> {
    const agent = await startAgent({
      dataDir: await dataDir(),
      args,
      env: { APPMESH_LOG_LEVEL: 'info', ...env },
    });
    agents.push(agent);
    return agent;
  }

  /** Runs `appmesh agent` expecting it to exit at start; returns its exit code and stderr. */
  async function agentExit(
    args: readonly string[],
    env: Record<string, string>,
  ): Promise<{ exitCode: number | undefined; stderr: string }> {
    const listen = `127.0.0.1:${await freePort()}`;
    const result = await execa(
      'node',
      [CLI, 'agent', '--listen', listen, '--data-dir', await dataDir(), ...args],
      {
        reject: false,
        stdin: 'ignore',
        env: { APPMESH_LOG_FORMAT: 'json', ...env },
        timeout: 30_000,
      },
    );
    return { exitCode: result.exitCode, stderr: result.stderr };
  }

  const cli = (...args: string[]) => execa('node', [CLI, ...args], { reject: false, stdin: 'ignore' });

  /** The session holding `appmesh/cluster/nodes/<node>`, once the node has reported. */
  const nodeSession = (client: Consul, node: string) =>
    eventually(
      `node key of ${node}`,
      async () => (await client.kv.get(`appmesh/cluster/nodes/${node}`)).value?.session,
    );

  async function runs(agent: AgentProcess, task: string): Promise<boolean> {
    const response = await request(`${agent.url}/appmesh/applications`);
    const apps = (await response.body.json()) as AppView[];
    return apps.some((a) => a.name === task && a.owner === 'cluster' && a.state === 'running');
  }

  async function readyz(agent: AgentProcess): Promise<number> {
    const response = await request(`${agent.url}/readyz`);
    await response.body.text();
    return response.statusCode;
  }

  before(async function () {
    pki = await createTestPki();
    const files = { caFile: pki.caFile, certFile: pki.server.certFile, keyFile: pki.server.keyFile };
    consul = await startConsul({ tls: files });
    mtlsConsul = await startConsul({ tls: { ...files, verifyIncoming: true } });
    kv = Consul.connect({ address: consul.address });
    mtlsKv = Consul.connect({ address: mtlsConsul.address });
  });

  after(async function () {
    for (const agent of agents) await agent.stop('SIGTERM');
    for (const dir of dataDirs) await removeDataDir(dir);
    await kv?.close();
    await mtlsKv?.close();
    await consul?.stop();
    await mtlsConsul?.stop();
    await pki?.remove();
    for (const pid of await pidsRunning(['sleep', SLEEP])) process.kill(pid, 'SIGKILL');
  });

  it('joins over HTTPS with CONSUL_CACERT, and with consul.tls.caFile from the config file, and runs a task', async function () {
    const byEnv = await launch(['--consul-addr', httpsAddress(consul), '--node-name', 'tls-env'], {
      CONSUL_CACERT: pki.caFile,
    });
    const config = join(pki.dir, 'agent.yaml');
    await writeFile(
      config,
      `consul:\n  url: ${JSON.stringify(httpsAddress(consul))}\n  tls:\n    caFile: ${JSON.stringify(pki.caFile)}\n`,
    );
    const byFile = await launch(['--config', config, '--node-name', 'tls-file']);

    expect(await nodeSession(kv, 'tls-env')).to.be.a('string');
    expect(await nodeSession(kv, 'tls-file')).to.be.a('string');
    expect(await readyz(byEnv)).to.equal(200);
    expect(await readyz(byFile)).to.equal(200);

    await kv.kv.put('appmesh/cluster/tasks/tls-task', {
      replication: 2,
      content: { command: `sleep ${SLEEP}` },
    });
    await eventually(
      'the task on both agents',
      async () => (await runs(byEnv, 'tls-task')) && (await runs(byFile, 'tls-task')),
      30_000,
      100,
    );
  });

  it('refuses to start, naming the address, when the CA did not sign Consul’s certificate', async function () {
    const { exitCode, stderr } = await agentExit(
      ['--consul-addr', httpsAddress(consul), '--node-name', 'tls-wrong-ca'],
      {
        CONSUL_CACERT: pki.otherCaFile,
      },
    );
    expect(exitCode, stderr).to.equal(1);
    expect(stderr.trim()).to.equal(
      `error: consul at ${httpsAddress(consul)}: TLS certificate verification failed (UNABLE_TO_VERIFY_LEAF_SIGNATURE); check CONSUL_CACERT / consul.tls.caFile (--ca-file for the CLI)`,
    );
    expect((await kv.kv.get('appmesh/cluster/nodes/tls-wrong-ca')).value).to.equal(undefined);
  });

  it('starts when Consul’s HTTPS address is down, and keeps running (a TLS check is not a connectivity gate)', async function () {
    const nowhere = `https://127.0.0.1:${await freePort()}`;
    const agent = await startAgent({
      dataDir: await dataDir(),
      args: ['--consul-addr', nowhere, '--node-name', 'tls-down'],
      env: { CONSUL_CACERT: pki.caFile, APPMESH_LOG_LEVEL: 'info' },
      waitFor: 'listening',
    });
    agents.push(agent);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(agent.running(), agent.output()).to.equal(true);
    expect(agent.output()).to.contain(`consul at ${nowhere} is unavailable (ECONNREFUSED`);
  });

  it('is refused without a client certificate when Consul requires one, and joins with one', async function () {
    const address = httpsAddress(mtlsConsul);
    const refused = await agentExit(['--consul-addr', address, '--node-name', 'tls-no-cert'], {
      CONSUL_CACERT: pki.caFile,
    });
    expect(refused.exitCode, refused.stderr).to.equal(1);
    expect(refused.stderr.trim()).to.match(
      new RegExp(
        `^error: consul at ${address}: the server refused the TLS handshake, .*\\(ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED\\); set CONSUL_CLIENT_CERT and CONSUL_CLIENT_KEY`,
      ),
    );

    const agent = await launch(['--consul-addr', address, '--node-name', 'tls-mtls'], {
      CONSUL_CACERT: pki.caFile,
      CONSUL_CLIENT_CERT: pki.client.certFile,
      CONSUL_CLIENT_KEY: pki.client.keyFile,
    });
    expect(await nodeSession(mtlsKv, 'tls-mtls')).to.be.a('string');
    expect(await readyz(agent)).to.equal(200);
  });

  it('lets the CLI read nodes over HTTPS with --ca-file (and --client-cert/--client-key for mTLS)', async function () {
    await nodeSession(kv, 'tls-env'); // the first test's agents
    const nodes = await cli(
      'get',
      'nodes',
      '-o',
      'json',
      '--consul-addr',
      httpsAddress(consul),
      '--ca-file',
      pki.caFile,
    );
    expect(nodes.exitCode, nodes.stderr).to.equal(0);
    const names = (JSON.parse(nodes.stdout) as { name: string }[]).map((n) => n.name);
    expect(names).to.include.members(['tls-env', 'tls-file']);

    const wrong = await cli(
      'get',
      'nodes',
      '--consul-addr',
      httpsAddress(consul),
      '--ca-file',
      pki.otherCaFile,
    );
    expect(wrong.exitCode).to.equal(1);
    expect(wrong.stderr).to.contain('TLS certificate verification failed (UNABLE_TO_VERIFY_LEAF_SIGNATURE)');

    const mtls = await cli(
      'get',
      'nodes',
      '-o',
      'json',
      '--consul-addr',
      httpsAddress(mtlsConsul),
      '--ca-file',
      pki.caFile,
      '--client-cert',
      pki.client.certFile,
      '--client-key',
      pki.client.keyFile,
    );
    expect(mtls.exitCode, mtls.stderr).to.equal(0);
    expect((JSON.parse(mtls.stdout) as { name: string }[]).map((n) => n.name)).to.deep.equal(['tls-mtls']);
  });
});
