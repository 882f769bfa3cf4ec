// The cluster behind Consul ACLs with a default deny and per-node trust: each agent's token is made by
// `appmesh acl bootstrap-node` (n1, n2 main-eligible, n3 a worker), the operators' token has
// manifests/acl/operators.hcl. Three agents schedule, run, register and fail over; every forgery the
// attack review reproduced with a worker's token (a topology write, a garbage report for another node,
// deposing the leader in one txn) is refused by Consul with 403 and changes nothing that runs; the
// operators' token reads no ACL token and writes only tasks, and an app it starts sees no agent token; a
// token without a policy is refused with a clear message and no crash; no secret ever appears in a log.
// The Consul agent itself runs with the management token as its `agent` token: this suite is about
// appmesh's tokens, and Consul's own node-registration token is the operator's business.
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { execa } from 'execa';
import { request } from 'undici';
import { Consul } from '../../src/consul/consul.js';
import { ConsulPermissionDeniedError } from '../../src/consul/errors.js';
import { CLI, pidsRunning } from '../fixtures/agent.js';
import { useCluster } from '../fixtures/cluster.js';
import { eventually } from '../fixtures/eventually.js';

const MANIFESTS = resolve(fileURLToPath(import.meta.url), '../../../../manifests');
const NODES = ['n1', 'n2', 'n3'] as const;
/** n1 and n2 may lead; n3 is the worker whose token plays the attacker. */
const MAIN_NODES: readonly string[] = ['n1', 'n2'];
const SLEEPS = ['5301', '5302', '5303', '5304', '5305'];
const CLUSTER = 'appmesh/cluster';

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
  /** Each node's token secret, as `appmesh acl bootstrap-node` wrote it. */
  const nodeTokens = new Map<string, string>();
  let cliToken = '';
  let bareToken = '';
  let dir = '';
  let managementFile = '';
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
      const name = policyFile.replace(/\.hcl$/, '').replace(/\//g, '-');
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

  /** One HTTP call to Consul with `token`; the status and body, whatever they are. */
  async function consulAs(
    token: string,
    method: 'GET' | 'PUT' | 'DELETE',
    path: string,
    body?: unknown,
  ): Promise<{ status: number; text: string }> {
    const response = await request(`${cluster.consul.address}${path}`, {
      method,
      headers: { 'x-consul-token': token, 'content-type': 'application/json' },
      body: body === undefined ? null : typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: response.statusCode, text: await response.body.text() };
  }

  function tokenOf(node: string): string {
    const token = nodeTokens.get(node);
    if (token === undefined) throw new Error(`no token was made for node ${node}`);
    return token;
  }

  // Two agents get their token through the environment (what an app would inherit if the agent passed
  // its environment on) and one through a file, as `bootstrap-node` writes it.
  const launch = (node: string, token: string, waitFor: 'ready' | 'listening' = 'ready') =>
    cluster.launch(node, {
      env:
        node === 'n2' ? { CONSUL_HTTP_TOKEN_FILE: join(dir, `${node}.token`) } : { CONSUL_HTTP_TOKEN: token },
      args: [
        ...(MAIN_NODES.includes(node) || node === 'denied' ? [] : ['--no-main']),
        '--label',
        `zone=${node}`,
      ],
      waitFor,
    });

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
    managementFile = join(dir, 'management.token');
    await writeFile(managementFile, managementToken, { mode: 0o600 });
    for (const node of NODES) {
      const out = join(dir, `${node}.token`);
      const made = await cli(
        'acl',
        'bootstrap-node',
        '--node',
        node,
        ...(MAIN_NODES.includes(node) ? ['--main'] : []),
        '--consul-node',
        cluster.consul.nodeName,
        '--out',
        out,
        '--token-file',
        managementFile,
      );
      expect(made.exitCode, made.stderr).to.equal(0);
      nodeTokens.set(node, (await readFile(out, 'utf8')).trim());
    }
    cliToken = await createToken('appmesh cli', 'acl/operators.hcl');
    bareToken = await createToken('no policy');
    for (const node of NODES) await launch(node, tokenOf(node));
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

  it('bootstrap-node wrote each secret to a new 0600 file, and refuses to overwrite one', async function () {
    for (const node of NODES) {
      const info = await stat(join(dir, `${node}.token`));
      expect(info.mode & 0o777, node).to.equal(0o600);
    }
    const again = await cli(
      'acl',
      'bootstrap-node',
      '--node',
      'n3',
      '--consul-node',
      cluster.consul.nodeName,
      '--out',
      join(dir, 'n3.token'),
      '--token-file',
      managementFile,
    );
    expect(again.exitCode).to.equal(1);
    expect(again.stderr).to.contain('it exists');
    expect(again.stderr).to.contain('no token was left in consul');
    expect(again.stdout + again.stderr).to.not.contain(managementToken);
    // Each node has one policy and one token: the refused run deleted the token it had made.
    const tokens = await consulAs(managementToken, 'GET', '/v1/acl/tokens');
    const described = (JSON.parse(tokens.text) as { Description?: string }[]).filter((token) =>
      token.Description?.startsWith('appmesh agent of node "n3"'),
    );
    expect(described).to.have.length(1);
  });

  /** A txn rolled back because an op was denied: 409, and Consul names the permission and the key. */
  function expectTxnDenied(answer: { status: number; text: string }, says: readonly string[]): void {
    expect(answer.status, answer.text).to.equal(409);
    const errors = (JSON.parse(answer.text) as { Errors?: { What: string }[] }).Errors ?? [];
    const denials = errors.filter((error) => error.What.startsWith('Permission denied'));
    expect(denials, answer.text).to.not.deep.equal([]);
    expect(
      denials.some((error) => says.every((part) => error.What.includes(part))),
      answer.text,
    ).to.equal(true);
  }

  it("bootstrap-node updates a node's own policy, and leaves a policy it did not make alone", async function () {
    const bootstrap = (node: string, ...extra: string[]) =>
      cli(
        'acl',
        'bootstrap-node',
        '--node',
        node,
        ...extra,
        '--out',
        join(dir, `${node}-${extra.length}.token`),
        '--token-file',
        managementFile,
      );
    const rulesOf = async (name: string) => {
      const found = await consulAs(managementToken, 'GET', `/v1/acl/policy/name/${name}`);
      expect(found.status, found.text).to.equal(200);
      return (JSON.parse(found.text) as { Rules: string }).Rules;
    };
    const first = await bootstrap('n9');
    expect(first.exitCode, first.stderr).to.equal(0);
    expect(first.stdout).to.match(
      /^created policy appmesh-node-n9 and created token [0-9a-f-]{36}; its secret is in /,
    );
    expect(await rulesOf('appmesh-node-n9')).to.not.contain('cluster/leader');
    const promoted = await bootstrap('n9', '--main');
    expect(promoted.exitCode, promoted.stderr).to.equal(0);
    expect(promoted.stdout).to.match(/^updated policy appmesh-node-n9 /);
    expect(await rulesOf('appmesh-node-n9')).to.contain('key "appmesh/cluster/leader"');
    await aclApi('/v1/acl/policy', { Name: 'appmesh-node-n8', Rules: 'key_prefix "" { policy = "read" }' });
    const foreign = await bootstrap('n8');
    expect(foreign.exitCode).to.equal(1);
    expect(foreign.stderr).to.contain('that appmesh did not make for node "n8"');
    expect(await rulesOf('appmesh-node-n8')).to.equal('key_prefix "" { policy = "read" }');
  });

  describe("a worker's token (n3) cannot steer the cluster", function () {
    /** What must not change: who leads under which session, every placement, and every app's pid. */
    async function snapshot() {
      const leader = (await cluster.client.kv.get(`${CLUSTER}/leader`)).value;
      const topology = await cluster.client.kv.list(`${CLUSTER}/topology/`);
      const nodes = await cluster.client.kv.list(`${CLUSTER}/nodes/`);
      const pids: Record<string, number[]> = {};
      for (const seconds of SLEEPS) pids[seconds] = (await pidsRunning(['sleep', seconds])).sort();
      return {
        leader: { session: leader?.session, value: leader?.value },
        topology: topology.value.map((entry) => [entry.key, entry.value]),
        nodes: nodes.value.map((entry) => [entry.key, entry.session]),
        pids,
      };
    }
    let before: Awaited<ReturnType<typeof snapshot>>;

    it('runs a task pinned to n1 (condition zone=n1) before the attempts', async function () {
      const file = await manifest('acl-pinned', {
        replication: 1,
        condition: { zone: 'n1' },
        content: { command: 'sleep 5304' },
      });
      const applied = await cli('apply', '-f', file, '--token', cliToken);
      expect(applied.exitCode, applied.stderr).to.equal(0);
      await eventually(
        'acl-pinned running on n1',
        async () => ((await cluster.runningOn('acl-pinned')).join() === 'n1' ? true : undefined),
        30_000,
        100,
      );
      await eventually(
        'one sleep 5304 process',
        async () => ((await pidsRunning(['sleep', '5304'])).length === 1 ? true : undefined),
        10_000,
        100,
      );
      before = await snapshot();
      expect(before.leader.session).to.be.a('string');
      expect(before.pids['5304']).to.have.length(1);
    });

    it('is refused (403) writing its own topology key with a task meant for another node', async function () {
      const forged = JSON.stringify([{ app: 'acl-pinned', schedule_time: new Date().toISOString() }]);
      for (const node of ['n3', 'n1']) {
        const put = await consulAs(tokenOf('n3'), 'PUT', `/v1/kv/${CLUSTER}/topology/${node}`, forged);
        expect(put.status, `topology/${node}: ${put.text}`).to.equal(403);
      }
      const deleted = await consulAs(tokenOf('n3'), 'DELETE', `/v1/kv/${CLUSTER}/topology/n1`);
      expect(deleted.status, deleted.text).to.equal(403);
    });

    it("is refused (403) writing or deleting another node's report", async function () {
      const put = await consulAs(tokenOf('n3'), 'PUT', `/v1/kv/${CLUSTER}/nodes/n1`, 'garbage');
      expect(put.status, put.text).to.equal(403);
      const deleted = await consulAs(tokenOf('n3'), 'DELETE', `/v1/kv/${CLUSTER}/nodes/n1`);
      expect(deleted.status, deleted.text).to.equal(403);
      // "n10" would share the prefix of "n1": the rule is an exact key.
      const prefixed = await consulAs(tokenOf('n3'), 'PUT', `/v1/kv/${CLUSTER}/nodes/n30`, '{}');
      expect(prefixed.status, prefixed.text).to.equal(403);
    });

    it('is refused deposing the leader in one txn (delete, then lock with a fresh session)', async function () {
      // Creating a session on its own Consul node is allowed: the agent needs that for its node key.
      const created = await consulAs(tokenOf('n3'), 'PUT', '/v1/session/create', {
        Name: 'rogue',
        TTL: '30s',
        Behavior: 'delete',
      });
      expect(created.status, created.text).to.equal(200);
      const rogue = (JSON.parse(created.text) as { ID: string }).ID;
      const value = Buffer.from(JSON.stringify({ node: 'n3', since: new Date().toISOString() })).toString(
        'base64',
      );
      const txn = await consulAs(tokenOf('n3'), 'PUT', '/v1/txn', [
        { KV: { Verb: 'delete', Key: `${CLUSTER}/leader` } },
        { KV: { Verb: 'lock', Key: `${CLUSTER}/leader`, Value: value, Session: rogue } },
      ]);
      // Consul answers a txn with a denied op as a rollback (409) that names the denial per op.
      expectTxnDenied(txn, ['key:write', `${CLUSTER}/leader`]);
      // Nor with a fenced placement under the rogue session, as a deposed-then-replaced leader would.
      const fenced = await consulAs(tokenOf('n3'), 'PUT', '/v1/txn', [
        { KV: { Verb: 'check-session', Key: `${CLUSTER}/leader`, Session: rogue } },
        { KV: { Verb: 'set', Key: `${CLUSTER}/topology/n3`, Value: value } },
      ]);
      expectTxnDenied(fenced, ['key:write', `${CLUSTER}/topology/n3`]);
      const acquire = await consulAs(tokenOf('n3'), 'PUT', `/v1/kv/${CLUSTER}/leader?acquire=${rogue}`, '{}');
      expect(acquire.status, acquire.text).to.equal(403);
      const destroyed = await consulAs(tokenOf('n3'), 'PUT', `/v1/session/destroy/${rogue}`);
      expect(destroyed.status, destroyed.text).to.equal(200);
    });

    it('is refused (403) writing task status or tasks', async function () {
      const status = await consulAs(tokenOf('n3'), 'PUT', `/v1/kv/${CLUSTER}/status/acl-pinned`, '{}');
      expect(status.status, status.text).to.equal(403);
      const task = await consulAs(tokenOf('n3'), 'PUT', `/v1/kv/${CLUSTER}/tasks/rogue`, '{}');
      expect(task.status, task.text).to.equal(403);
    });

    it('left everything as it was: the same leader session, placements, reports and pids', async function () {
      // Long enough for a leader to notice a vanished node or a worker to apply a forged topology.
      await new Promise((resolveWait) => setTimeout(resolveWait, 4_000));
      expect(await snapshot()).to.deep.equal(before);
      expect(await cluster.runningOn('acl-pinned')).to.deep.equal(['n1']);
      expect((await cluster.client.kv.get(`${CLUSTER}/tasks/rogue`)).value).to.equal(undefined);
    });
  });

  describe("the operators' token", function () {
    it("reads no ACL token, neither the list nor a node's token", async function () {
      const list = await consulAs(cliToken, 'GET', '/v1/acl/tokens');
      expect(list.status, list.text).to.equal(403);
      const all = JSON.parse((await consulAs(managementToken, 'GET', '/v1/acl/tokens')).text) as {
        AccessorID: string;
        Description?: string;
      }[];
      const n1 = all.find((token) => token.Description?.startsWith('appmesh agent of node "n1"'));
      expect(n1, 'the token of n1').to.not.equal(undefined);
      const one = await consulAs(cliToken, 'GET', `/v1/acl/token/${n1?.AccessorID ?? ''}`);
      expect(one.status, one.text).to.equal(403);
      for (const secret of nodeTokens.values()) expect(list.text + one.text).to.not.contain(secret);
    });

    it('cannot write node reports, the leader key, topology or status', async function () {
      for (const key of ['nodes/n1', 'leader', 'topology/n1', 'status/acl-web']) {
        const put = await consulAs(cliToken, 'PUT', `/v1/kv/${CLUSTER}/${key}`, '{}');
        expect(put.status, `${key}: ${put.text}`).to.equal(403);
      }
    });

    it("starts apps that see none of the agents' tokens in their environment", async function () {
      const out = join(dir, 'acl-env');
      const file = await manifest('acl-env', {
        replication: 3,
        content: { shell: true, command: `env > ${out}-$$.txt; exec sleep 5305` },
      });
      const applied = await cli('apply', '-f', file, '--token', cliToken);
      expect(applied.exitCode, applied.stderr).to.equal(0);
      const pids = await eventually(
        'acl-env running on all three nodes',
        async () => {
          const running = await pidsRunning(['sleep', '5305']);
          return running.length === 3 ? running : undefined;
        },
        30_000,
        100,
      );
      for (const pid of pids) {
        const env = await readFile(`${out}-${pid}.txt`, 'utf8');
        expect(env).to.match(/^PATH=/m);
        expect(env, `app ${pid}`).to.not.match(/CONSUL_HTTP_TOKEN|APPMESH_API_TOKEN/);
        for (const secret of [...nodeTokens.values(), managementToken]) expect(env).to.not.contain(secret);
      }
      const deleted = await cli('delete', 'task', 'acl-env', '--token', cliToken);
      expect(deleted.exitCode, deleted.stderr).to.equal(0);
    });
  });

  // Mocha runs a suite's own tests before its inner suites: these need the cluster the ones above left.
  describe('afterwards: failover, a token without policy, the CLI', function () {
    it('needed no permission beyond the per-node policies: no agent logged a denial', function () {
      for (const node of NODES) {
        const denials = (cluster.agents.get(node)?.output() ?? '')
          .split('\n')
          .filter((line) => /permission denied|lacks permission/i.test(line));
        expect(denials, node).to.deep.equal([]);
      }
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
      const file = await manifest('acl-after-failover', {
        replication: 1,
        content: { command: 'sleep 5302' },
      });
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
      for (const secret of [...nodeTokens.values(), cliToken, bareToken, managementToken])
        expect(logs.includes(secret), 'a token secret appears in an agent log').to.equal(false);
    });
  });
});
