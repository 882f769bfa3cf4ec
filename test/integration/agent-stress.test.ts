// Issue 7: one real agent runs pathological apps side by side for a while — crash loops, apps that
// ignore SIGTERM, apps that fork and exit, apps that flood output without newlines — and stays
// responsive (REST latency sampled throughout) and bounded in memory, then ends every process it ran.
// The `it`s run in order against the one agent: the first is the soak window, the rest read its outcome.
import { expect } from 'chai';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  callAgent,
  makeDataDir,
  pidsRunning,
  removeDataDir,
  startAgent,
  type AgentProcess,
} from '../fixtures/agent.js';
import { eventually } from '../fixtures/eventually.js';
import { delay } from '../fixtures/process.js';

interface AppView {
  name: string;
  state: string;
  starts: number;
  last_error?: string;
  return_code?: number;
}

const SOAK_MS = 20_000;
const SAMPLE_MS = 100;
const P99_BOUND_MS = 500;
const RSS_BOUND_BYTES = 300 * 1024 * 1024;
const STOP_TIMEOUT_SECONDS = 1;
const FLOOD_BUFFER_BYTES = 256 * 1024;
const FLOOD_BUFFER_LINES = 100;
/** OUTPUT_FILE_MAX_BYTES in src/process/output-file.ts. */
const OUTPUT_FILE_MAX_BYTES = 8 * 1024 * 1024;

const crashLoopers = [1, 2, 3, 4, 5].map((code) => ({
  name: `crash-${code}`,
  // Odd ones without a shell (sh is the program), even ones through /bin/sh.
  spec:
    code % 2 === 1
      ? { command: `sh -c 'echo crash-${code} >&2; exit ${code}'` }
      : { command: `echo crash-${code} >&2; exit ${code}`, shell: true },
}));

const termIgnorers = [4711, 4712].map((tag) => ({
  name: `deaf-${tag}`,
  argv: ['sleep', String(tag)],
  spec: { command: `trap '' TERM; sleep ${tag}`, shell: true, stop_timeout_seconds: STOP_TIMEOUT_SECONDS },
}));

/** The backgrounded child stays in the app's process group. */
const forker = {
  name: 'forker',
  argv: ['sleep', '4721'],
  spec: { command: '(sleep 4721 &); exit 0', shell: true, behavior: { exit: 'standby' } },
};
/**
 * setsid puts the child in a new session and group, out of reach of the group signals. The app waits a
 * moment before exiting so the child has left the group before the group is ended.
 */
const sessionForker = {
  name: 'session-forker',
  argv: ['sleep', '4731'],
  spec: { command: 'setsid sleep 4731 & sleep 1; exit 0', shell: true, behavior: { exit: 'standby' } },
};

const floodScript = "'stress-4751';setInterval(()=>process.stdout.write('x'.repeat(65536)),1)";
const flooders = [
  {
    name: 'flood-node',
    argv: [process.execPath, '-e', floodScript],
    spec: { command: `${process.execPath} -e "${floodScript}"` },
  },
  {
    name: 'flood-yes',
    argv: ['yes', 'stress-4752'],
    spec: { command: "yes stress-4752 | tr -d '\\n'", shell: true },
  },
].map((app) => ({
  ...app,
  spec: { ...app.spec, output_buffer_bytes: FLOOD_BUFFER_BYTES, output_buffer_lines: FLOOD_BUFFER_LINES },
}));

/**
 * Issue 14: apps that cannot start at all. Each fails on its own with a last_error naming the cause;
 * none may hold up the others (see the churn probe below).
 */
const cannotStart = [
  {
    name: 'no-binary',
    spec: { command: '/nonexistent/bin-4761 --flag' },
    error: /\/nonexistent\/bin-4761 was not found/,
  },
  {
    name: 'no-working-dir',
    spec: { command: 'sleep 4762', working_dir: '/nonexistent/dir-4762' },
    error: /working_dir \/nonexistent\/dir-4762 does not exist/,
  },
];
/** Put straight into apps.json: a PUT would refuse it (400), but the user may vanish after a PUT. */
const ghostUser = {
  name: 'ghost-user',
  spec: { command: 'sleep 4771', exec_user: 'no-such-user-4771' },
  error: /exec_user: no user "no-such-user-4771"/,
};
/** 400 KB of environment in 100 KB values (each under exec's per-string limit): it runs. */
const hugeEnv = {
  name: 'huge-env',
  argv: ['sleep', '4772'],
  spec: {
    command: 'sleep 4772',
    env: Object.fromEntries(Array.from({ length: 4 }, (_v, i) => [`BIG_${i}`, 'e'.repeat(100_000)])),
  },
};
/** The app the churn probe creates and deletes over and over during the soak. */
const CHURN_ARGV = ['sleep', '4781'];
/** Put -> running and delete -> gone, each, while every pathological app runs. */
const CHURN_BOUND_MS = 5_000;

/** The pipeline's second half; `\\n` stays two characters inside single quotes. */
const TR_ARGV = ['tr', '-d', '\\n'];

const everyArgv = [
  ...termIgnorers.map((a) => a.argv),
  forker.argv,
  sessionForker.argv,
  ...flooders.map((a) => a.argv),
  hugeEnv.argv,
  CHURN_ARGV,
  ['sleep', '4762'],
  ['sleep', '4771'],
];

async function call(agent: AgentProcess, method: 'GET' | 'PUT' | 'DELETE', path: string, body?: unknown) {
  const response = await callAgent(agent, method, path, body);
  return { status: response.status, text: response.text };
}

async function app(agent: AgentProcess, name: string): Promise<AppView> {
  const response = await call(agent, 'GET', `/appmesh/app/${name}`);
  expect(response.status, response.text).to.equal(200);
  return JSON.parse(response.text) as AppView;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

/** Polls the agent's REST API every SAMPLE_MS until stopped; every failure is kept with its reason. */
class LatencySampler {
  readonly latenciesMs: number[] = [];
  readonly failures: string[] = [];
  #stopped = false;
  readonly #done: Promise<void>;

  constructor(private readonly agent: AgentProcess) {
    this.#done = this.#loop();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#done;
  }

  async #loop(): Promise<void> {
    while (!this.#stopped) {
      const tick = performance.now();
      for (const path of ['/appmesh/applications', '/healthz']) {
        const started = performance.now();
        try {
          const response = await call(this.agent, 'GET', path);
          this.latenciesMs.push(performance.now() - started);
          if (response.status !== 200) this.failures.push(`${path}: HTTP ${response.status}`);
        } catch (err) {
          this.failures.push(`${path}: ${(err as Error).message}`);
        }
      }
      await delay(Math.max(0, SAMPLE_MS - (performance.now() - tick)));
    }
  }
}

/**
 * Creates, runs and deletes one short-lived app after another for as long as the soak lasts, timing
 * each step: proof that the supervisor keeps starting, stopping and deleting apps next to the others.
 */
class ChurnProbe {
  readonly cyclesMs: number[] = [];
  readonly failures: string[] = [];
  #stopped = false;
  readonly #done: Promise<void>;

  constructor(private readonly agent: AgentProcess) {
    this.#done = this.#loop();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#done;
  }

  async #loop(): Promise<void> {
    for (let n = 0; !this.#stopped; n++) {
      const name = `churn-${n}`;
      const started = performance.now();
      try {
        const put = await call(this.agent, 'PUT', `/appmesh/app/${name}`, { command: CHURN_ARGV.join(' ') });
        if (put.status !== 201) throw new Error(`PUT ${put.status} ${put.text}`);
        await eventually(
          `${name} running`,
          async () => (await app(this.agent, name)).state === 'running',
          CHURN_BOUND_MS,
        );
        const del = await call(this.agent, 'DELETE', `/appmesh/app/${name}`);
        if (del.status !== 200) throw new Error(`DELETE ${del.status}`);
        await eventually(
          `${name} gone`,
          async () => (await pidsRunning(CHURN_ARGV)).length === 0,
          CHURN_BOUND_MS,
        );
        this.cyclesMs.push(performance.now() - started);
      } catch (err) {
        this.failures.push(`${name}: ${(err as Error).message}`);
      }
      await delay(200);
    }
  }
}

/** The agent's resident memory from /proc/<pid>/status, in bytes. */
async function residentBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  if (kb === undefined) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(kb) * 1024;
}

async function fileSize(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch {
    return undefined;
  }
}

describe('stand-alone agent under pathological apps (real processes)', function () {
  this.timeout(120_000);
  let agent: AgentProcess;
  let sampler: LatencySampler;
  let churn: ChurnProbe;
  let maxRssBytes = 0;
  const maxOutputBodyBytes = new Map<string, number>();
  const maxOutputFileBytes = new Map<string, number>();
  const rotated = new Set<string>();

  before(async function () {
    const dataDir = await makeDataDir();
    await writeFile(
      join(dataDir, 'apps.json'),
      JSON.stringify([{ name: ghostUser.name, ...ghostUser.spec }]),
    );
    agent = await startAgent({ dataDir });
    for (const { name, spec } of [
      ...crashLoopers,
      ...termIgnorers,
      forker,
      sessionForker,
      ...flooders,
      ...cannotStart,
      hugeEnv,
    ]) {
      const put = await call(agent, 'PUT', `/appmesh/app/${name}`, spec);
      expect(put.status, put.text).to.equal(201);
    }
  });

  after(async function () {
    if (agent.running()) await agent.stop('SIGKILL');
    // Whatever a failed test (or the setsid escapee) left running is ended here.
    for (const argv of everyArgv) {
      for (const pid of await pidsRunning(argv)) process.kill(pid, 'SIGKILL');
    }
    for (const pid of await pidsRunning(TR_ARGV)) process.kill(pid, 'SIGKILL');
    await removeDataDir(agent.dataDir);
  });

  it('stays responsive and bounded in memory while the pathological apps run', async function () {
    sampler = new LatencySampler(agent);
    churn = new ChurnProbe(agent);
    const deadline = Date.now() + SOAK_MS;
    try {
      while (Date.now() < deadline) {
        maxRssBytes = Math.max(maxRssBytes, await residentBytes(agent.pid));
        for (const { name } of flooders) {
          const output = await call(agent, 'GET', `/appmesh/app/${name}/output`);
          expect(output.status, output.text.slice(0, 200)).to.equal(200);
          const bytes = Buffer.byteLength(output.text);
          maxOutputBodyBytes.set(name, Math.max(maxOutputBodyBytes.get(name) ?? 0, bytes));
          const file = join(agent.dataDir, 'output', `${name}.out`);
          for (const path of [file, `${file}.1`]) {
            const size = await fileSize(path);
            if (size !== undefined)
              maxOutputFileBytes.set(path, Math.max(maxOutputFileBytes.get(path) ?? 0, size));
          }
          if ((await fileSize(`${file}.1`)) !== undefined) rotated.add(name);
        }
        await delay(500);
      }
    } finally {
      await sampler.stop();
      await churn.stop();
    }
    const sorted = [...sampler.latenciesMs].sort((a, b) => a - b);
    const p50 = percentile(sorted, 50);
    const p99 = percentile(sorted, 99);
    console.log(
      `      REST latency over ${sorted.length} requests: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, ` +
        `max ${(sorted.at(-1) ?? Number.NaN).toFixed(1)} ms; failures ${sampler.failures.length}; ` +
        `agent max RSS ${(maxRssBytes / 1024 / 1024).toFixed(1)} MB`,
    );
    console.log(
      `      output: max GET body ${JSON.stringify(Object.fromEntries(maxOutputBodyBytes))} bytes; ` +
        `max file sizes ${JSON.stringify(Object.fromEntries([...maxOutputFileBytes].map(([p, s]) => [p.split('/').pop(), s])))}`,
    );
    const cycles = [...churn.cyclesMs].sort((a, b) => a - b);
    console.log(
      `      churn: ${cycles.length} create/run/delete cycles, p50 ${percentile(cycles, 50).toFixed(0)} ms, ` +
        `max ${(cycles.at(-1) ?? Number.NaN).toFixed(0)} ms; failures ${churn.failures.length}`,
    );
    expect(sampler.failures, sampler.failures.join('\n')).to.deep.equal([]);
    expect(churn.failures, churn.failures.join('\n')).to.deep.equal([]);
    expect(cycles.length).to.be.greaterThan(SOAK_MS / 2_000);
    expect(sorted.length).to.be.greaterThan((SOAK_MS / SAMPLE_MS) * 0.5);
    expect(p99).to.be.lessThan(P99_BOUND_MS);
    expect(maxRssBytes).to.be.lessThan(RSS_BOUND_BYTES);
    expect(agent.running()).to.equal(true);
  });

  it('backs off crash-looping apps (1 s doubling) and says why they failed', async function () {
    const starts: Record<string, number> = {};
    for (const { name } of crashLoopers) {
      const view = await app(agent, name);
      const code = Number(name.split('-')[1]);
      starts[name] = view.starts;
      // Starts at ~0, 1, 3, 7, 15 s (less up to 20 % jitter, the next at >= 24.8 s): 5 within 20 s, a
      // 6th only if the jitter is extreme and the window stretched. Without backoff it would be hundreds.
      expect(view.starts, name).to.be.within(3, 6);
      expect(view.last_error, name).to.equal(`process exited with code ${code}`);
      expect(['backoff', 'starting', 'running'], name).to.include(view.state);
      const output = await call(agent, 'GET', `/appmesh/app/${name}/output`);
      const crashLines = output.text.split('\n').filter((line) => line === name).length;
      expect(crashLines, name).to.be.within(view.starts - 1, view.starts); // the latest run may not have written yet
    }
    console.log(`      crash-loop starts in ~${SOAK_MS / 1000} s: ${JSON.stringify(starts)}`);
  });

  it('fails each app that cannot start on its own, saying why, and runs the huge-env app', async function () {
    for (const { name, error } of [...cannotStart, ghostUser]) {
      const view = await app(agent, name);
      expect(view.last_error, name).to.match(error);
      expect(['backoff', 'failed', 'starting'], `${name}: ${view.state}`).to.include(view.state);
    }
    expect((await app(agent, ghostUser.name)).state).to.equal('failed');
    expect((await app(agent, hugeEnv.name)).state).to.equal('running');
    expect(await pidsRunning(hugeEnv.argv)).to.have.length(1);
  });

  it('bounds a newline-free flood in the output buffer and in its rotated output file', function () {
    for (const { name } of flooders) {
      // Each line is cut to 64 Ki characters; the body adds one newline per line held.
      expect(maxOutputBodyBytes.get(name), name).to.be.within(1, FLOOD_BUFFER_BYTES + FLOOD_BUFFER_LINES);
      expect([...rotated], 'rotated output files').to.include(name);
    }
    for (const [path, size] of maxOutputFileBytes) {
      expect(size, path).to.be.at.most(OUTPUT_FILE_MAX_BYTES);
    }
  });

  it("ends a forked child left in the app's group when the app exits; a setsid child escapes", async function () {
    expect((await app(agent, forker.name)).state).to.equal('standby');
    expect(await pidsRunning(forker.argv)).to.deep.equal([]);
    expect((await app(agent, sessionForker.name)).state).to.equal('standby');
    // The known limit: a child that left the group (setsid) is out of reach of the group signals and
    // outlives its app. Recorded here so a change in that behaviour is noticed.
    expect(await pidsRunning(sessionForker.argv)).to.have.length(1);
  });

  it('kills apps that ignore SIGTERM within the stop timeout when they are deleted', async function () {
    for (const { name, argv } of termIgnorers) {
      expect((await app(agent, name)).state).to.equal('running');
      expect(await pidsRunning(argv)).to.have.length(1);
    }
    const started = Date.now();
    for (const { name } of termIgnorers) {
      expect((await call(agent, 'DELETE', `/appmesh/app/${name}`)).status).to.equal(200);
    }
    await eventually('the SIGTERM-ignoring apps ended', async () => {
      for (const { argv } of termIgnorers) if ((await pidsRunning(argv)).length > 0) return false;
      return true;
    });
    const tookMs = Date.now() - started;
    console.log(
      `      SIGTERM-ignoring apps ended ${tookMs} ms after DELETE (stop timeout ${STOP_TIMEOUT_SECONDS} s)`,
    );
    expect(tookMs).to.be.lessThan(STOP_TIMEOUT_SECONDS * 1000 + 3_000);
    for (const { name, spec } of termIgnorers) {
      expect(await pidsRunning(['/bin/sh', '-c', spec.command]), name).to.deep.equal([]);
    }
  });

  it('leaves no app processes behind after everything is deleted, and exits 0 on SIGTERM', async function () {
    for (const { name } of [
      ...crashLoopers,
      forker,
      sessionForker,
      ...flooders,
      ...cannotStart,
      ghostUser,
      hugeEnv,
    ]) {
      expect((await call(agent, 'DELETE', `/appmesh/app/${name}`)).status).to.equal(200);
    }
    await eventually('every app gone from the API', async () => {
      const list = JSON.parse((await call(agent, 'GET', '/appmesh/applications')).text) as AppView[];
      return list.length === 0;
    });
    const remainAfterDelete = async () => {
      const left: string[] = [];
      for (const argv of [...everyArgv.filter((a) => a !== sessionForker.argv), TR_ARGV]) {
        if ((await pidsRunning(argv)).length > 0) left.push(argv.join(' '));
      }
      return left;
    };
    await eventually('every app process ended', async () => (await remainAfterDelete()).length === 0);
    expect(await agent.stop('SIGTERM')).to.equal(0);
    expect(await remainAfterDelete()).to.deep.equal([]);
    // Only the setsid escapee survives its app, as above; the after hook ends it.
    expect(await pidsRunning(sessionForker.argv)).to.have.length(1);
  });
});
