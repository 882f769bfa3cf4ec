// The stand-alone agent as an operator runs it: a real `appmesh agent` process, real child processes,
// its REST API and CLI, restarts (clean and kill -9) and shutdown.
import { expect } from 'chai';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import {
  callAgent,
  CLI,
  makeDataDir,
  pidsRunning,
  removeDataDir,
  startAgent,
  type AgentProcess,
} from '../fixtures/agent.js';
import { eventually } from '../fixtures/eventually.js';

interface AppView {
  name: string;
  state: string;
  pid?: number;
  starts: number;
  owner: string;
  health: string;
}

/** A call with the agent's own token unless `token` says otherwise ('' sends none). */
function call(
  agent: AgentProcess,
  method: 'GET' | 'PUT' | 'POST' | 'DELETE',
  path: string,
  body?: string,
  token: string = agent.token,
) {
  return callAgent(agent, method, path, body, { authorization: token === '' ? '' : `Bearer ${token}` });
}

async function app(agent: AgentProcess, name: string): Promise<AppView> {
  const response = await call(agent, 'GET', `/appmesh/app/${name}`);
  expect(response.status, response.text).to.equal(200);
  return JSON.parse(response.text) as AppView;
}

const running = (agent: AgentProcess, name: string) =>
  eventually(`${name} running`, async () => {
    const view = await app(agent, name);
    return view.state === 'running' && view.pid ? view : undefined;
  });

describe('stand-alone agent (real processes)', function () {
  this.timeout(90_000);
  const dataDirs: string[] = [];
  const agents: AgentProcess[] = [];
  const newDataDir = async () => {
    const dir = await makeDataDir();
    dataDirs.push(dir);
    return dir;
  };
  const launch = async (options: Parameters<typeof startAgent>[0] = {}) => {
    const agent = await startAgent(options);
    agents.push(agent);
    return agent;
  };

  afterEach(async function () {
    for (const agent of agents.splice(0)) await agent.stop('SIGKILL');
  });
  after(async function () {
    for (const dir of dataDirs) await removeDataDir(dir);
    // Whatever a failed test left running is ended here, so nothing outlives the suite.
    for (const argv of [
      ['sleep', '4301'],
      ['sleep', '4302'],
      ['sleep', '4303'],
      ['sleep', '4304'],
    ]) {
      for (const pid of await pidsRunning(argv)) process.kill(pid, 'SIGKILL');
    }
  });

  it('runs an app put over REST, reports it, serves its output and health', async function () {
    const agent = await launch({ dataDir: await newDataDir() });
    const put = await call(
      agent,
      'PUT',
      '/appmesh/app/greeter',
      JSON.stringify({ command: 'echo hello-from-greeter; sleep 4301', shell: true }),
    );
    expect(put.status, put.text).to.equal(201);
    const view = await running(agent, 'greeter');
    expect(view.owner).to.equal('local');
    const output = await eventually('greeter output', async () => {
      const r = await call(agent, 'GET', '/appmesh/app/greeter/output');
      return r.text.includes('hello-from-greeter') ? r : undefined;
    });
    expect(Number(output.headers['x-output-position'])).to.be.greaterThan(0);
    expect((await call(agent, 'GET', '/appmesh/app/greeter/health')).status).to.equal(200);
    const list = JSON.parse((await call(agent, 'GET', '/appmesh/applications')).text) as AppView[];
    expect(list.map((a) => a.name)).to.deep.equal(['greeter']);
    const metrics = (await call(agent, 'GET', '/metrics')).text;
    expect(metrics).to.contain('appmesh_apps{state="running",owner="local"} 1');
    expect(metrics).to.contain('appmesh_reconcile_total{controller="app-supervisor",result="success"}');

    expect((await call(agent, 'DELETE', '/appmesh/app/greeter')).status).to.equal(200);
    await eventually('greeter gone', async () => (await pidsRunning(['sleep', '4301'])).length === 0);
    expect((await call(agent, 'GET', '/appmesh/app/greeter')).status).to.equal(404);
  });

  it('keeps apps across a clean agent restart, and leaves no children when stopped with SIGTERM', async function () {
    const dataDir = await newDataDir();
    const first = await launch({ dataDir });
    await call(first, 'PUT', '/appmesh/app/keeper', JSON.stringify({ command: 'sleep 4302' }));
    const before = await running(first, 'keeper');
    expect(await first.stop('SIGTERM')).to.equal(0);
    expect(await pidsRunning(['sleep', '4302'])).to.deep.equal([]);

    const second = await launch({ dataDir });
    const after = await running(second, 'keeper');
    expect(after.pid).to.not.equal(before.pid);
    expect(await pidsRunning(['sleep', '4302'])).to.deep.equal([after.pid]);
  });

  it('runs exactly one copy of each app after the agent is killed with SIGKILL and restarted', async function () {
    const dataDir = await newDataDir();
    const first = await launch({ dataDir });
    await call(first, 'PUT', '/appmesh/app/single', JSON.stringify({ command: 'sleep 4303' }));
    const orphan = await running(first, 'single');
    await first.stop('SIGKILL');
    // The app is in its own process group, so it outlives the agent: a leftover the next run must end.
    expect(await pidsRunning(['sleep', '4303'])).to.deep.equal([orphan.pid]);

    const second = await launch({ dataDir });
    const fresh = await running(second, 'single');
    expect(fresh.pid).to.not.equal(orphan.pid);
    expect(await pidsRunning(['sleep', '4303'])).to.deep.equal([fresh.pid]);
  });

  it('requires the configured API token for changes and for reads of apps', async function () {
    const token = 's3cret-token-for-tests';
    const agent = await launch({ dataDir: await newDataDir(), env: { APPMESH_API_TOKEN: token } });
    const body = JSON.stringify({ command: 'sleep 4304' });
    expect((await call(agent, 'PUT', '/appmesh/app/guarded', body, '')).status).to.equal(401);
    expect((await call(agent, 'PUT', '/appmesh/app/guarded', body, 'wrong')).status).to.equal(401);
    expect((await call(agent, 'PUT', '/appmesh/app/guarded', body, token)).status).to.equal(201);
    expect((await call(agent, 'GET', '/appmesh/applications', undefined, '')).status).to.equal(401);
    expect((await call(agent, 'GET', '/appmesh/applications', undefined, token)).status).to.equal(200);
    expect((await call(agent, 'POST', '/appmesh/app/guarded/disable', undefined, '')).status).to.equal(401);
    expect((await call(agent, 'DELETE', '/appmesh/app/guarded', undefined, token)).status).to.equal(200);
    expect(agent.output()).to.not.contain(token);
    expect((await call(agent, 'GET', '/metrics')).text).to.not.contain(token);
  });

  it('answers bad input with 4xx and the field paths, and stores nothing', async function () {
    const agent = await launch({ dataDir: await newDataDir(), env: { APPMESH_MAX_BODY_BYTES: '2048' } });
    const badJson = await call(agent, 'PUT', '/appmesh/app/x', '{"command": ');
    expect(badJson.status).to.equal(400);
    expect(badJson.text).to.contain('not valid JSON');

    const unknownField = await call(
      agent,
      'PUT',
      '/appmesh/app/x',
      JSON.stringify({ command: 'true', colour: 1 }),
    );
    expect(unknownField.status).to.equal(400);
    expect(JSON.parse(unknownField.text)).to.deep.include({ details: ['colour: unknown field'] });

    const wrongType = await call(agent, 'PUT', '/appmesh/app/x', JSON.stringify({ command: 42 }));
    expect(wrongType.status).to.equal(400);
    expect(wrongType.text).to.contain('command: expected a non-empty string, got 42');

    const mismatch = await call(
      agent,
      'PUT',
      '/appmesh/app/x',
      JSON.stringify({ name: 'y', command: 'true' }),
    );
    expect(mismatch.status).to.equal(400);

    const huge = await call(agent, 'PUT', '/appmesh/app/x', JSON.stringify({ command: 'x'.repeat(4096) }));
    expect(huge.status).to.equal(413);

    expect((await call(agent, 'GET', '/appmesh/app/nope')).status).to.equal(404);
    expect((await call(agent, 'POST', '/appmesh/app/nope/restart')).status).to.equal(404);
    expect((await call(agent, 'GET', '/appmesh/app/nope/health')).status).to.equal(404);
    expect((await call(agent, 'GET', '/appmesh/nothing')).status).to.equal(404);
    expect(JSON.parse((await call(agent, 'GET', '/appmesh/applications')).text)).to.deep.equal([]);
  });

  it('refuses to listen beyond loopback without TLS, before it binds anything', async function () {
    const dataDir = await newDataDir();
    const result = await execa('node', [CLI, 'agent', '--listen', '0.0.0.0:0', '--data-dir', dataDir], {
      reject: false,
      timeout: 20_000,
      env: { APPMESH_API_TOKEN: 'beyond-loopback-test' },
    });
    expect(result.exitCode).to.equal(1);
    expect(result.stderr).to.contain('listen 0.0.0.0:0 is beyond loopback');
    expect(result.stderr).to.contain('--tls-cert');
    expect(result.stderr).to.not.contain('listening');
  });

  it('applies an Application manifest with the CLI and lists it', async function () {
    const dataDir = await newDataDir();
    const agent = await launch({ dataDir });
    const manifest = join(dataDir, 'app.yaml');
    await writeFile(
      manifest,
      [
        'apiVersion: appmesh/v1',
        'kind: Application',
        'metadata: { name: cli-app }',
        'spec: { command: "sleep 4301", description: from the CLI }',
      ].join('\n'),
    );
    // The CLI finds the token in $APPMESH_API_TOKEN (the agent's data dir is not the default one here).
    const env = { APPMESH_API_TOKEN: agent.token };
    const applied = await execa('node', [CLI, 'apply', '-f', manifest, '--agent', agent.url], {
      reject: false,
      env,
    });
    expect(applied.stdout, applied.stderr).to.contain('application/cli-app created');
    await running(agent, 'cli-app');
    const listed = await execa('node', [CLI, 'get', 'apps', '-o', 'json', '--agent', agent.url], { env });
    expect((JSON.parse(listed.stdout) as AppView[]).map((a) => a.name)).to.deep.equal(['cli-app']);

    await writeFile(
      manifest,
      'apiVersion: appmesh/v1\nkind: Application\nmetadata: { name: bad }\nspec: { command: 1 }\n',
    );
    const rejected = await execa('node', [CLI, 'apply', '-f', manifest, '--agent', agent.url], {
      reject: false,
      env,
    });
    expect(rejected.exitCode).to.equal(1);
    expect(rejected.stderr).to.contain('spec.command: expected a non-empty string, got 1');
    const deleted = await execa('node', [CLI, 'delete', 'app', 'cli-app', '--agent', agent.url], { env });
    expect(deleted.stdout).to.contain('application/cli-app deleted');
  });
});
