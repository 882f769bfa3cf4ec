// Agents and the CLI against Consul's HTTPS listener, with a CA the test makes: the server certificate is
// verified, a wrong CA or a missing client certificate stops `appmesh agent` at start with one clear
// line, and client certificates work when Consul requires them. Consul merely down does not stop it.
import { expect } from 'chai';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { request } from 'undici';
import { freePort, type ConsulFixture } from '../fixtures/consul.js';
import {
  CLI,
  applicationsOf,
  makeDataDir,
  removeDataDir,
  runningClusterCopy,
  type AgentProcess,
} from '../fixtures/agent.js';
import { startCluster, type TestCluster } from '../fixtures/cluster.js';
import { eventually } from '../fixtures/eventually.js';
import { createTestPki, type TestPki } from '../fixtures/tls.js';

/** The `sleep` argument of this suite's task, so its processes can be found and cleaned up. */
const SLEEP = '5301';

describe('TLS to Consul (real Consul over HTTPS, real agents)', function () {
  this.timeout(120_000);
  let pki: TestPki;
  /** Agents on HTTPS without client certificates; its client speaks plain HTTP, to look at what they wrote. */
  let cluster: TestCluster;
  /** Agents on HTTPS that requires a client certificate (verify_incoming). */
  let mtlsCluster: TestCluster;

  const httpsAddress = (fixture: ConsulFixture): string => {
    if (fixture.httpsAddress === undefined) throw new Error('the Consul fixture was started without tls');
    return fixture.httpsAddress;
  };

  /** Runs `appmesh agent` expecting it to exit at start; returns its exit code and stderr. */
  async function agentExit(
    args: readonly string[],
    env: Record<string, string>,
  ): Promise<{ exitCode: number | undefined; stderr: string }> {
    const listen = `127.0.0.1:${await freePort()}`;
    const dataDir = await makeDataDir();
    try {
      const result = await execa('node', [CLI, 'agent', '--listen', listen, '--data-dir', dataDir, ...args], {
        reject: false,
        stdin: 'ignore',
        env: { APPMESH_LOG_FORMAT: 'json', ...env },
        timeout: 30_000,
      });
      return { exitCode: result.exitCode, stderr: result.stderr };
    } finally {
      await removeDataDir(dataDir);
    }
  }

  const cli = (...args: string[]) => execa('node', [CLI, ...args], { reject: false, stdin: 'ignore' });

  /** The session holding `appmesh/cluster/nodes/<node>`, once the node has reported. */
  const nodeSession = (of: TestCluster, node: string) =>
    eventually(
      `node key of ${node}`,
      async () => (await of.client.kv.get(`appmesh/cluster/nodes/${node}`)).value?.session,
    );

  const runs = async (agent: AgentProcess, task: string): Promise<boolean> =>
    runningClusterCopy(await applicationsOf(agent), task) !== undefined;

  async function readyz(agent: AgentProcess): Promise<number> {
    const response = await request(`${agent.url}/readyz`);
    await response.body.text();
    return response.statusCode;
  }

  before(async function () {
    pki = await createTestPki();
    const files = { caFile: pki.caFile, certFile: pki.server.certFile, keyFile: pki.server.keyFile };
    const common = { nodes: {}, consulAddress: httpsAddress, agentEnv: { APPMESH_LOG_LEVEL: 'info' } };
    cluster = await startCluster({ ...common, consul: { tls: files } });
    mtlsCluster = await startCluster({ ...common, consul: { tls: { ...files, verifyIncoming: true } } });
    cluster.trackArgv(['sleep', SLEEP]);
  });

  after(async function () {
    await cluster?.close();
    await mtlsCluster?.close();
    await pki?.remove();
  });

  it('joins over HTTPS with CONSUL_CACERT, and with consul.tls.caFile from the config file, and runs a task', async function () {
    const byEnv = await cluster.launch('tls-env', { env: { CONSUL_CACERT: pki.caFile } });
    const config = join(pki.dir, 'agent.yaml');
    await writeFile(
      config,
      `consul:\n  url: ${JSON.stringify(httpsAddress(cluster.consul))}\n  tls:\n    caFile: ${JSON.stringify(pki.caFile)}\n`,
    );
    const byFile = await cluster.launch('tls-file', { args: ['--config', config], consulAddress: null });

    expect(await nodeSession(cluster, 'tls-env')).to.be.a('string');
    expect(await nodeSession(cluster, 'tls-file')).to.be.a('string');
    expect(await readyz(byEnv)).to.equal(200);
    expect(await readyz(byFile)).to.equal(200);

    await cluster.client.kv.put('appmesh/cluster/tasks/tls-task', {
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
      ['--consul-addr', httpsAddress(cluster.consul), '--node-name', 'tls-wrong-ca'],
      {
        CONSUL_CACERT: pki.otherCaFile,
      },
    );
    expect(exitCode, stderr).to.equal(1);
    expect(stderr.trim()).to.equal(
      `error: consul at ${httpsAddress(cluster.consul)}: TLS certificate verification failed (UNABLE_TO_VERIFY_LEAF_SIGNATURE); check CONSUL_CACERT / consul.tls.caFile (--ca-file for the CLI)`,
    );
    expect((await cluster.client.kv.get('appmesh/cluster/nodes/tls-wrong-ca')).value).to.equal(undefined);
  });

  it('starts when Consul’s HTTPS address is down, and keeps running (a TLS check is not a connectivity gate)', async function () {
    const nowhere = `https://127.0.0.1:${await freePort()}`;
    const agent = await cluster.launch('tls-down', {
      consulAddress: nowhere,
      env: { CONSUL_CACERT: pki.caFile },
      waitFor: 'listening',
    });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(agent.running(), agent.output()).to.equal(true);
    expect(agent.output()).to.contain(`consul at ${nowhere} is unavailable (ECONNREFUSED`);
  });

  it('is refused without a client certificate when Consul requires one, and joins with one', async function () {
    const address = httpsAddress(mtlsCluster.consul);
    const refused = await agentExit(['--consul-addr', address, '--node-name', 'tls-no-cert'], {
      CONSUL_CACERT: pki.caFile,
    });
    expect(refused.exitCode, refused.stderr).to.equal(1);
    expect(refused.stderr.trim()).to.match(
      new RegExp(
        `^error: consul at ${address}: the server refused the TLS handshake, .*\\(ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED\\); set CONSUL_CLIENT_CERT and CONSUL_CLIENT_KEY`,
      ),
    );

    const agent = await mtlsCluster.launch('tls-mtls', {
      env: {
        CONSUL_CACERT: pki.caFile,
        CONSUL_CLIENT_CERT: pki.client.certFile,
        CONSUL_CLIENT_KEY: pki.client.keyFile,
      },
    });
    expect(await nodeSession(mtlsCluster, 'tls-mtls')).to.be.a('string');
    expect(await readyz(agent)).to.equal(200);
  });

  it('lets the CLI read nodes over HTTPS with --ca-file (and --client-cert/--client-key for mTLS)', async function () {
    await nodeSession(cluster, 'tls-env'); // the first test's agents
    const nodes = await cli(
      'get',
      'nodes',
      '-o',
      'json',
      '--consul-addr',
      httpsAddress(cluster.consul),
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
      httpsAddress(cluster.consul),
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
      httpsAddress(mtlsCluster.consul),
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
