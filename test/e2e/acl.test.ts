// The cluster behind Consul ACLs with a default deny, using the shipped least-privilege policies
// (manifests/consul-acl-policy.hcl for agents, manifests/consul-acl-cli-policy.hcl for the CLI): three
// agents schedule, run, register and fail over with the agent token; a token without the policy is
// refused with a clear message and no crash; the CLI token writes tasks and nothing else; no secret ever
// appears in a log. The Consul agent itself runs with the management token as its `agent` token: this
// suite is about appmesh's tokens, and Consul's own node-registration token is the operator's business.
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { execa } from 'execa';
import { request } from 'undici';
import { Consul } from '../../src/consul/consul.js';
import { ConsulPermissionDeniedError } from '../../src/consul/errors.js';
import { CLI } from '../fixtures/agent.js';
import { useCluster } from '../fixtures/cluster.js';
import { eventually } from '../fixtures/eventually.js';

const MANIFESTS = resolve(fileURLToPath(import.meta.url), '../../../../manifests');
const NODES = ['n1', 'n2', 'n3'] as const;
const SLEEPS = ['5301', '5302', '5303'];

describe('ACLs (real Consul with default deny, least-privilege tokens)', function () {
  this.timeout(240_000);
  const managementToken = randomUUID();
  // No nodes at start: the agents need a token that exists only once Consul runs. The test's client
  // has management access, to create the policies and tokens and to observe what the agents did.
  const cluster = useCluster({
    nodes: {},
    consul: {
      hcl: [
        `acl { enabled = true default_policy = "deny" enable_token_persistence = true tokens { initial_management = "${managementToken}" agent = "${managementToken}" } }`,
      ],
      token: managementToken,
    },
    agentEnv: { APPMESH_LOG_LEVEL: 'debug', CONSUL_HTTP_TOKEN_FILE: '' },
    clientToken: managementToken,
  });
  let agentToken = '';
  let cliToken = '';
  let bareToken = '';
  let dir = '';
  /** Every agent's output, kept after it stops, to search for secrets at the end. */
  const outputs: string[] = [];

  /** A call to Consul's ACL API with the management token; returns the decoded JSON answer. */
  async function aclApi(path: string, body: unknown): Promise<Record<string, unknown>> {
    const response = await request(`${cluster.consul.address}${path}`, {
      method: 'PUT',
      headers: { 'x-consul-token': managementToken, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await response.body.text();
    if (response.statusCode !== 200) throw new Error(`PUT ${path}: HTTP ${response.statusCode}: ${text}`);
    return JSON.parse(text) as Record<string, unknown>;
  }

  async function createToken(description: string, policyFile?: string): Promise<string> {
    const policies: { Name: string }[] = [];
    if (policyFile !== undefined) {
      const name = policyFile.replace(/\.hcl$/, '');
      await aclApi('/v1/acl/policy', {
        Name: name,
        Rules: await readFile(join(MANIFESTS, policyFile), 'utf8'),
      });
      policies.push({ Name: name });
    }
    const token = await aclApi('/v1/acl/token', { Description: description, Policies: policies });
    const secret = token['SecretID'];
    if (typeof secret !== 'string') throw new Error(`token ${description}: no SecretID in the answer`);
    return secret;
  }

  const launch = (node: string, token: string, waitFor: 'ready' | 'listening' = 'ready') =>
    cluster.launch(node, { env: { CONSUL_HTTP_TOKEN: token }, waitFor });

  async function stopAgent(node: string): Promise<void> {
    const agent = cluster.agents.get(node);
    if (agent === undefined) return;
    await cluster.stop(node, 'SIGTERM');
    outputs.push(agent.output());
  }

  /** `appmesh <args>` against the ACL'd Consul; no token from the test's own environment leaks in. */
  const cli = (...args: string[]) =>
    execa('node', [CLI, ...args, '--consul-addr', cluster.consul.address], {
      reject: false,
      stdin: 'ignore',
      env: { CONSUL_HTTP_TOKEN: '', CONSUL_HTTP_TOKEN_FILE: '' },
    });

  async function manifest(name: string, spec: Record<string, unknown>): Promise<string> {
    const path = join(dir, `${name}.json`);
    const document = { apiVersion: 'appmesh/v1', kind: 'ClusterTask', metadata: { name }, spec };
    await writeFile(path, JSON.stringify(document));
    return path;
  }

  before(async function () {
    dir = await mkdtemp(join(tmpdir(), 'appmesh-acl-'));
    for (const seconds of SLEEPS) cluster.trackArgv(['sleep', seconds]);
    agentToken = await createToken('appmesh agent', 'consul-acl-policy.hcl');
    cliToken = await createToken('appmesh cli', 'consul-acl-cli-policy.hcl');
    bareToken = await createToken('no policy');
    for (const node of NODES) await launch(node, agentToken);
    await eventually('a leader', () => cluster.leaderNode(), 20_000, 100);
  });

  after(async function () {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('schedules, runs and registers as a passing service a task applied with the CLI token', async function () {
    const file = await manifest('acl-web', {
      replication: 2,
      port: 7301,
      content: { command: 'sleep 5301' },
    });
    const applied = await cli('apply', '-f', file, '--token', cliToken);
    expect(applied.exitCode, applied.stderr).to.equal(0);
    expect(applied.stdout).to.contain('created');
    const placed = await eventually(
      'acl-web running on two nodes',
      async () => {
        const nodes = await cluster.runningOn('acl-web');
        return nodes.length === 2 ? nodes : undefined;
      },
      30_000,
      100,
    );
    expect(placed.every((node) => (NODES as readonly string[]).includes(node))).to.equal(true);
    const passing = await eventually(
      'two passing acl-web instances',
      async () => {
        const found = (await cluster.client.health.service('acl-web', { passing: true })).value;
        return found.length === 2 ? found : undefined;
      },
      30_000,
      100,
    );
    expect(passing.map((entry) => entry.Service.Meta?.appmesh_node).sort()).to.deep.equal(placed);
    // The CLI token reads enough for the views operators use.
    const described = await cli('describe', 'task', 'acl-web', '--token', cliToken);
    expect(described.exitCode, described.stderr).to.equal(0);
    expect(described.stdout).to.contain('acl-web');
  });

  it('elects another leader that still schedules when the leader stops', async function () {
    const leader = await eventually('a leader', () => cluster.leaderNode());
    await stopAgent(leader);
    const next = await eventually(
      'a new leader',
      async () => {
        const node = await cluster.leaderNode();
        return node !== undefined && node !== leader ? node : undefined;
      },
      20_000,
      100,
    );
    expect(next).to.not.equal(leader);
    const file = await manifest('acl-after-failover', { replication: 1, content: { command: 'sleep 5302' } });
    const applied = await cli('apply', '-f', file, '--token', cliToken);
    expect(applied.exitCode, applied.stderr).to.equal(0);
    const placed = await eventually(
      'acl-after-failover placed',
      async () => {
        const nodes = await cluster.runningOn('acl-after-failover');
        return nodes.length === 1 ? nodes : undefined;
      },
      30_000,
      100,
    );
    expect(placed[0]).to.not.equal(leader);
  });

  it('keeps an agent whose token lacks the policy up and not ready, saying what was denied', async function () {
    const agent = await launch('denied', bareToken, 'listening');
    const denial = await eventually(
      'a permission-denied log line',
      () =>
        agent
          .output()
          .split('\n')
          .find((line) => /permission denied/i.test(line)),
      15_000,
      100,
    );
    // Consul's text names the permission and the resource; ours names the endpoint and the remedy.
    expect(denial).to.match(/lacks permission '[a-z]+:write'/);
    expect(denial).to.match(/\/v1\/(agent\/service\/register|session\/create|kv)/);
    expect(denial).to.contain("check the ACL token's policy");
    // Over several seconds: still running, never ready, retrying with backoff rather than spinning.
    const watchedFrom = Date.now();
    while (Date.now() - watchedFrom < 6_000) {
      const readyz = await request(`${agent.url}/readyz`);
      await readyz.body.text();
      expect(readyz.statusCode).to.equal(503);
      expect(agent.running()).to.equal(true);
      await new Promise((r) => setTimeout(r, 500));
    }
    const denials = agent
      .output()
      .split('\n')
      .filter((line) => /permission denied/i.test(line));
    expect(denials.length).to.be.within(1, 30);
    expect(agent.output()).to.not.contain(bareToken);
    expect(await cluster.client.kv.keys('appmesh/cluster/nodes/')).to.not.include(
      'appmesh/cluster/nodes/denied',
    );
    await stopAgent('denied');
  });

  it('lets the CLI token write tasks and nothing else under the prefix', async function () {
    const cliClient = Consul.connect({ address: cluster.consul.address, token: cliToken });
    try {
      let refused: unknown;
      try {
        await cliClient.kv.put('appmesh/cluster/leader', '{"node":"mallory"}');
      } catch (error) {
        refused = error;
      }
      expect(refused).to.be.instanceOf(ConsulPermissionDeniedError);
      expect((refused as Error).message).to.not.contain(cliToken);
      // It may read the rest: the CLI's get and describe need that.
      expect(await cliClient.kv.keys('appmesh/cluster/nodes/')).to.not.deep.equal([]);
    } finally {
      await cliClient.close();
    }
  });

  it('fails `appmesh apply` without a token with exit 1 and one permission-denied line', async function () {
    const file = await manifest('acl-anonymous', { replication: 1, content: { command: 'sleep 5303' } });
    const applied = await cli('apply', '-f', file);
    expect(applied.exitCode).to.equal(1);
    const lines = applied.stderr.trim().split('\n');
    expect(lines, applied.stderr).to.have.length(1);
    expect(lines[0]).to.match(/permission denied/i);
    expect(lines[0]).to.contain('acl-anonymous');
    expect((await cluster.client.kv.get('appmesh/cluster/tasks/acl-anonymous')).value).to.equal(undefined);
  });

  it('never writes a token secret to an agent log', function () {
    const logs = [...outputs, ...[...cluster.agents.values()].map((agent) => agent.output())].join('\n');
    expect(logs.length).to.be.greaterThan(0);
    for (const secret of [agentToken, cliToken, bareToken, managementToken])
      expect(logs.includes(secret), 'a token secret appears in an agent log').to.equal(false);
  });
});
