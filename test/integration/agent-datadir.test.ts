// Issue 14: nothing is lost from the data dir. Real agent processes, killed with SIGKILL and restarted on
// a data dir whose ledger was corrupted, truncated or removed, run exactly one copy of every app (the
// leftovers are found by the marker each child carries); an apps.json that does not decode, or names
// one app twice, stops the agent with exit 1 before it touches the previous run's processes.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
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
}

const APPS = 6;
/** Each app is `sleep <tag>`, so /proc tells its copies apart from anything else on the host. */
const tags = Array.from({ length: APPS }, (_v, i) => String(4600 + i));
const argvOf = (tag: string) => ['sleep', tag];

/** Alive and not a zombie (orphans whose new parent does not reap them linger as zombies). */
const isAlive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
};

async function putApps(agent: AgentProcess): Promise<void> {
  for (const tag of tags) {
    const reply = await callAgent(agent, 'PUT', `/appmesh/app/sleeper-${tag}`, { command: `sleep ${tag}` });
    expect(reply.status, reply.text).to.equal(201);
  }
}

/** Pid of every app once all run, keyed by tag. */
async function allRunning(agent: AgentProcess): Promise<Map<string, number>> {
  return eventually('every app running', async () => {
    const reply = await callAgent(agent, 'GET', '/appmesh/applications');
    const views = JSON.parse(reply.text) as AppView[];
    const pids = new Map<string, number>();
    for (const view of views) {
      if (view.state === 'running' && view.pid !== undefined)
        pids.set(view.name.replace('sleeper-', ''), view.pid);
    }
    return pids.size === APPS ? pids : undefined;
  });
}

/** Runs `appmesh agent` to its exit (it is expected to refuse to start). */
function agentExit(dataDir: string) {
  return execa('node', [CLI, 'agent', '--listen', '127.0.0.1:0', '--data-dir', dataDir], {
    reject: false,
    stdin: 'ignore',
    timeout: 20_000,
    env: { APPMESH_API_TOKEN: 'datadir-test-token', APPMESH_LOG_FORMAT: 'json' },
  });
}

describe('agent data dir (real agent processes, issue 14)', function () {
  this.timeout(120_000);
  const dataDirs: string[] = [];
  const agents: AgentProcess[] = [];
  const newDataDir = async () => {
    const dir = await makeDataDir();
    dataDirs.push(dir);
    return dir;
  };
  const launch = async (dataDir: string) => {
    const agent = await startAgent({ dataDir });
    agents.push(agent);
    return agent;
  };

  afterEach(async function () {
    for (const agent of agents.splice(0)) await agent.stop('SIGTERM');
    // Whatever a failed test left running is ended here, so nothing outlives the suite.
    for (const tag of tags) for (const pid of await pidsRunning(argvOf(tag))) process.kill(pid, 'SIGKILL');
  });
  after(async function () {
    for (const dir of dataDirs) await removeDataDir(dir);
  });

  const damages: Array<{ what: string; damage: (path: string) => Promise<void> }> = [
    { what: 'corrupt', damage: (path) => writeFile(path, '{"this is": not json') },
    {
      what: 'truncated',
      damage: async (path) => {
        const text = await readFile(path, 'utf8');
        await writeFile(path, text.slice(0, Math.floor(text.length / 2)));
      },
    },
    { what: 'missing', damage: (path) => rm(path, { force: true }) },
    { what: 'an empty array', damage: (path) => writeFile(path, '[]\n') },
  ];

  for (const { what, damage } of damages) {
    it(`runs exactly one copy of each app after kill -9 when processes.json is ${what}`, async function () {
      const dataDir = await newDataDir();
      const first = await launch(dataDir);
      await putApps(first);
      const before = await allRunning(first);
      await first.stop('SIGKILL');
      // The apps live on while the agent is down.
      for (const pid of before.values()) expect(isAlive(pid), `pid ${pid} after kill -9`).to.equal(true);
      await damage(join(dataDir, 'processes.json'));

      const second = await launch(dataDir);
      const after = await allRunning(second);
      for (const tag of tags) {
        const copies = await pidsRunning(argvOf(tag));
        expect(copies, `copies of sleep ${tag}`).to.deep.equal([after.get(tag)]);
        expect(after.get(tag)).to.not.equal(before.get(tag));
      }
      for (const pid of before.values()) expect(isAlive(pid), `old pid ${pid}`).to.equal(false);
    });
  }

  it('refuses to start on a truncated apps.json (exit 1) and leaves the running apps alone', async function () {
    const dataDir = await newDataDir();
    const first = await launch(dataDir);
    await putApps(first);
    const before = await allRunning(first);
    await first.stop('SIGKILL');
    const storePath = join(dataDir, 'apps.json');
    const store = await readFile(storePath, 'utf8');
    await writeFile(storePath, store.slice(0, Math.floor(store.length / 2)));

    const refused = await agentExit(dataDir);
    expect(refused.exitCode, refused.all ?? refused.stderr).to.equal(1);
    expect(`${refused.stdout}${refused.stderr}`).to.include('apps.json is not valid JSON');
    for (const [tag, pid] of before) {
      expect(isAlive(pid), `sleep ${tag} still running`).to.equal(true);
      expect(await pidsRunning(argvOf(tag))).to.deep.equal([pid]);
    }

    // Once the file is fixed, the next start ends the leftovers and runs one copy of each.
    await writeFile(storePath, store);
    const second = await launch(dataDir);
    const after = await allRunning(second);
    for (const tag of tags) expect(await pidsRunning(argvOf(tag))).to.deep.equal([after.get(tag)]);
  });

  it('refuses to start when apps.json names one app twice, naming both entries', async function () {
    const dataDir = await newDataDir();
    const entries = [
      { name: 'a', command: 'sleep 4690' },
      { name: 'web', command: 'sleep 4691' },
      { name: 'b', command: 'sleep 4692' },
      { name: 'web', command: 'sleep 4693' },
    ];
    await writeFile(join(dataDir, 'apps.json'), JSON.stringify(entries));
    const refused = await agentExit(dataDir);
    expect(refused.exitCode).to.equal(1);
    expect(`${refused.stdout}${refused.stderr}`).to.match(
      /entries 1 and 3 \(counting from 0\) are both named "web"/,
    );
    for (const tag of ['4690', '4691', '4692', '4693'])
      expect(await pidsRunning(argvOf(tag))).to.deep.equal([]);
  });

  it('keeps, but does not run, a stored entry that no longer decodes (a NUL in env), and runs the rest', async function () {
    const dataDir = await newDataDir();
    const entries = [
      { name: 'nul', command: 'true', env: { A: 'x\u0000y' } },
      { name: 'fine', command: `sleep ${tags[0] ?? '4600'}` },
    ];
    await writeFile(join(dataDir, 'apps.json'), JSON.stringify(entries));
    const agent = await launch(dataDir);
    const views = await eventually('fine running', async () => {
      const list = JSON.parse((await callAgent(agent, 'GET', '/appmesh/applications')).text) as AppView[];
      return list.some((v) => v.name === 'fine' && v.state === 'running') ? list : undefined;
    });
    expect(views.map((v) => v.name)).to.deep.equal(['fine']);
    // A change to another app writes the undecodable entry back untouched.
    expect((await callAgent(agent, 'PUT', '/appmesh/app/other', { command: 'true' })).status).to.equal(201);
    const stored = JSON.parse(await readFile(join(dataDir, 'apps.json'), 'utf8')) as Array<{ name: string }>;
    expect(stored.map((e) => e.name).sort()).to.deep.equal(['fine', 'nul', 'other']);
  });
});
