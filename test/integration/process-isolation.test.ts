// Issue 14, through a real agent process: apps run with what their spec gives them. An app running
// `env` sees no token of the agent's (CONSUL_HTTP_TOKEN, APPMESH_API_TOKEN set in the agent's own
// environment), only the minimal set plus what the config's env.allow passes; a NUL byte is a 400 naming
// the field and leaves the other apps alone; the agent-wide output budget refuses an app with a 400;
// exec_user runs the process as that user with that user's groups, and an unknown user is a 400.
import { expect } from 'chai';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { callAgent, makeDataDir, removeDataDir, startAgent, type AgentProcess } from '../fixtures/agent.js';
import { eventually } from '../fixtures/eventually.js';

interface AppView {
  name: string;
  state: string;
  return_code?: number;
}

const CONSUL_SECRET = 'consul-secret-4b1d';
const SETTING = 'passed-through-77';

async function outputOf(agent: AgentProcess, name: string, contains: string): Promise<string> {
  return eventually(`${name} output with ${contains}`, async () => {
    const reply = await callAgent(agent, 'GET', `/appmesh/app/${name}/output`);
    return reply.status === 200 && reply.text.includes(contains) ? reply.text : undefined;
  });
}

async function stateOf(agent: AgentProcess, name: string): Promise<string | undefined> {
  const reply = await callAgent(agent, 'GET', `/appmesh/app/${name}`);
  return reply.status === 200 ? (JSON.parse(reply.text) as AppView).state : undefined;
}

describe('app isolation through the agent (real agent process, issue 14)', function () {
  this.timeout(60_000);
  let agent: AgentProcess;
  let dataDir: string;

  before(async function () {
    dataDir = await makeDataDir();
    const config = join(dataDir, 'agent.json');
    await writeFile(
      config,
      JSON.stringify({ env: { allow: ['MY_*'] }, maxTotalOutputBufferBytes: 4 * 1024 * 1024 }),
    );
    agent = await startAgent({
      dataDir,
      args: ['--config', config],
      env: {
        CONSUL_HTTP_TOKEN: CONSUL_SECRET,
        MY_SETTING: SETTING,
        MY_SECRET_THING: 'denied-even-if-allowed',
        SOME_OTHER: 'not-passed',
      },
    });
  });
  after(async function () {
    await agent.stop('SIGTERM');
    await removeDataDir(dataDir);
  });

  it('gives an app no token of the agent, only the minimal set plus env.allow and its own env', async function () {
    const put = await callAgent(agent, 'PUT', '/appmesh/app/printenv', {
      command: 'env',
      env: { APP_OWN: 'mine' },
      behavior: { exit: 'standby' },
    });
    expect(put.status, put.text).to.equal(201);
    const output = await outputOf(agent, 'printenv', 'APP_OWN=mine');
    expect(output).to.not.include('CONSUL_HTTP_TOKEN');
    expect(output).to.not.include(CONSUL_SECRET);
    expect(output).to.not.include('APPMESH_API_TOKEN');
    expect(output).to.not.include(agent.token);
    expect(output).to.not.include('MY_SECRET_THING');
    expect(output).to.not.include('SOME_OTHER');
    expect(output).to.include(`MY_SETTING=${SETTING}`);
    expect(output).to.match(/^PATH=/m);
    expect(output).to.match(/^APPMESH_APP=printenv$/m);
    expect(output).to.match(/^APPMESH_AGENT_ID=[0-9a-f-]{36}$/m);
  });

  it('answers a NUL byte with 400 naming the field, and keeps serving other apps', async function () {
    for (const [field, body] of [
      ['env.A', { command: 'true', env: { A: 'x\u0000y' } }],
      ['working_dir', { command: 'true', working_dir: '/tmp\u0000x' }],
      ['command', { command: 'sleep\u00001' }],
      ['health_check_cmd', { command: 'true', health_check_cmd: 'true\u0000' }],
    ] as const) {
      const reply = await callAgent(agent, 'PUT', '/appmesh/app/nul', body);
      expect(reply.status, reply.text).to.equal(400);
      expect((JSON.parse(reply.text) as { details: string[] }).details.join('\n')).to.include(
        `${field}: a NUL byte`,
      );
    }
    expect((await callAgent(agent, 'GET', '/appmesh/app/nul')).status).to.equal(404);
    const other = await callAgent(agent, 'PUT', '/appmesh/app/after-nul', { command: 'sleep 4801' });
    expect(other.status).to.equal(201);
    await eventually('after-nul running', async () => (await stateOf(agent, 'after-nul')) === 'running');
    expect((await callAgent(agent, 'POST', '/appmesh/app/after-nul/restart')).status).to.equal(200);
    expect((await callAgent(agent, 'DELETE', '/appmesh/app/after-nul')).status).to.equal(200);
  });

  it('refuses an app that would take the output buffers over maxTotalOutputBufferBytes', async function () {
    const big = await callAgent(agent, 'PUT', '/appmesh/app/big', {
      command: 'sleep 4802',
      output_buffer_bytes: 2 * 1024 * 1024,
    });
    expect(big.status, big.text).to.equal(201);
    const over = await callAgent(agent, 'PUT', '/appmesh/app/over', {
      command: 'sleep 4803',
      output_buffer_bytes: 2 * 1024 * 1024,
    });
    expect(over.status, over.text).to.equal(400);
    expect(over.text).to.include('maxTotalOutputBufferBytes 4194304');
    // Shrinking an existing app is a change, not an addition: it is accepted.
    const shrink = await callAgent(agent, 'PUT', '/appmesh/app/big', {
      command: 'sleep 4802',
      output_buffer_bytes: 1024,
    });
    expect(shrink.status, shrink.text).to.equal(200);
    expect((await callAgent(agent, 'DELETE', '/appmesh/app/big')).status).to.equal(200);
  });

  it("runs an app as its exec_user, with that user's ids, groups, HOME and USER", async function () {
    if (process.getuid?.() !== 0) this.skip();
    const put = await callAgent(agent, 'PUT', '/appmesh/app/as-nobody', {
      command: 'id; echo "home=$HOME user=$USER"',
      shell: true,
      exec_user: 'nobody',
      behavior: { exit: 'standby' },
    });
    expect(put.status, put.text).to.equal(201);
    const output = await outputOf(agent, 'as-nobody', 'home=');
    expect(output).to.match(/uid=65534\(nobody\) gid=65534\(\w+\) groups=65534\(\w+\)$/m);
    expect(output).to.include('home=/nonexistent user=nobody');
  });

  it('answers an exec_user that does not exist with 400 naming exec_user', async function () {
    const reply = await callAgent(agent, 'PUT', '/appmesh/app/ghost', {
      command: 'true',
      exec_user: 'no-such-user-4804',
    });
    expect(reply.status, reply.text).to.equal(400);
    expect(reply.text).to.include('exec_user: no user \\"no-such-user-4804\\"');
  });
});
