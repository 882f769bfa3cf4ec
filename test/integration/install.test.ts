// `make install` produces the layout the systemd unit runs: the program in the unit's ExecStart exists under
// DESTDIR, runs the agent with the installed /etc/appmesh/agent.yaml (answering /healthz on loopback), and
// the installed unit (ExecStart with PREFIX) passes systemd-analyze verify where systemd's tools exist.
import { expect } from 'chai';
import { access, constants, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { freePort } from '../fixtures/consul.js';
import { eventually } from '../fixtures/eventually.js';
import {
  hasSystemdAnalyze,
  parseUnit,
  readUnit,
  repoRoot,
  withExecStartProgram,
} from '../fixtures/systemd-unit.js';

/** The build output this test runs from (dist/ or another outDir): what `make install` copies. */
const buildRoot = resolve(fileURLToPath(import.meta.url), '../../..');

describe('make install', function () {
  this.timeout(120_000);
  let destdir = '';

  before(async function () {
    destdir = await mkdtemp(join(tmpdir(), 'appmesh-install-'));
    const make = await execa(
      'make',
      ['--no-print-directory', 'install', `DESTDIR=${destdir}`, `INSTALL_FROM=${buildRoot}`],
      {
        cwd: repoRoot,
        reject: false,
      },
    );
    expect(make.exitCode, `${make.stdout}\n${make.stderr}`).to.equal(0);
  });

  after(async function () {
    if (destdir !== '') await rm(destdir, { recursive: true, force: true });
  });

  it("installs the unit's ExecStart program, the unit and the agent config", async function () {
    const [program] = (await readUnit()).execStart();
    if (program === undefined) throw new Error('the unit has no ExecStart');
    await access(join(destdir, program), constants.X_OK);
    const installed = parseUnit(
      await readFile(join(destdir, 'etc/systemd/system/appmesh-agent.service'), 'utf8'),
    );
    expect(installed.execStart()[0]).to.equal(program);
    expect((await stat(join(destdir, 'etc/appmesh/agent.yaml'))).mode & 0o777).to.equal(0o640);
    const help = await execa(join(destdir, program), ['--help'], { reject: false });
    expect(help.exitCode, help.stderr).to.equal(0);
    expect(help.stdout).to.contain('agent');
  });

  it('keeps an existing /etc/appmesh/agent.yaml', async function () {
    const config = join(destdir, 'etc/appmesh/agent.yaml');
    await writeFile(config, 'listen: 127.0.0.1:6099\n');
    const again = await execa(
      'make',
      ['--no-print-directory', 'install', `DESTDIR=${destdir}`, `INSTALL_FROM=${buildRoot}`],
      {
        cwd: repoRoot,
        reject: false,
      },
    );
    expect(again.exitCode, again.stderr).to.equal(0);
    expect(await readFile(config, 'utf8')).to.equal('listen: 127.0.0.1:6099\n');
    await rm(config);
    const restore = await execa(
      'make',
      ['--no-print-directory', 'install', `DESTDIR=${destdir}`, `INSTALL_FROM=${buildRoot}`],
      {
        cwd: repoRoot,
        reject: false,
      },
    );
    expect(restore.exitCode, restore.stderr).to.equal(0);
  });

  it('runs the agent as the unit does, with the installed config, answering /healthz', async function () {
    const unit = await readUnit();
    const [program, ...args] = unit.execStart();
    if (program === undefined) throw new Error('the unit has no ExecStart');
    // The unit's own arguments, with the config under DESTDIR; then flags that keep the run on loopback, in
    // a temp data dir, and away from any real Consul (nothing listens on port 1: the agent retries).
    const configAt = args.indexOf('--config');
    const configured = args.map((arg, index) => (index === configAt + 1 ? join(destdir, arg) : arg));
    const port = await freePort();
    const agent = execa(
      join(destdir, program),
      [
        ...configured,
        '--listen',
        `127.0.0.1:${port}`,
        '--data-dir',
        join(destdir, 'var/lib/appmesh'),
        '--consul-addr',
        '127.0.0.1:1',
        '--node-name',
        'install-test',
      ],
      { reject: false, all: true, env: { APPMESH_PORT_LOCK_DIR: join(destdir, 'run/appmesh/ports') } },
    );
    try {
      await eventually(
        'the installed agent answering /healthz',
        async () => {
          if (agent.exitCode !== null) throw new Error(`the installed agent exited ${agent.exitCode}`);
          return (await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200;
        },
        20_000,
        100,
      );
    } finally {
      agent.kill('SIGTERM');
      const result = await agent;
      expect(result.exitCode, result.all).to.equal(0);
    }
  });

  it('installs a unit that systemd-analyze verify accepts', async function () {
    const why = await hasSystemdAnalyze();
    if (why !== true) {
      console.log(`      skipped: ${why}`);
      this.skip();
    }
    const installed = parseUnit(
      await readFile(join(destdir, 'etc/systemd/system/appmesh-agent.service'), 'utf8'),
    );
    const [program] = installed.execStart();
    if (program === undefined) throw new Error('the installed unit has no ExecStart');
    const copy = join(destdir, 'verify-appmesh-agent.service');
    await writeFile(copy, withExecStartProgram(installed, join(destdir, program)));
    const verify = await execa('systemd-analyze', ['verify', copy], { reject: false });
    expect(verify.exitCode, `${verify.stdout}\n${verify.stderr}`).to.equal(0);
  });
});
