// The shipped systemd unit keeps the README's promises: systemd signals only the agent (an agent crash
// leaves its apps running for the restarted agent to reap), the hardening that leaves apps alone is on, and
// `systemd-analyze verify` accepts it. Skipped, saying why, where systemd's tools are not installed.
import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { hasSystemdAnalyze, readUnit, unitPath, withExecStartProgram } from '../fixtures/systemd-unit.js';

describe('the shipped systemd unit (manifests/appmesh-agent.service)', function () {
  this.timeout(60_000);

  it('signals only the agent, restarts it on failure, and names its state and runtime directories', async function () {
    const unit = await readUnit();
    expect(unit.service('KillMode')).to.deep.equal(['process']);
    expect(unit.service('Restart')).to.deep.equal(['on-failure']);
    expect(unit.service('User')).to.deep.equal([]); // root: exec_user needs it (README "Install")
    expect(unit.service('StateDirectory')).to.deep.equal(['appmesh']);
    expect(unit.service('RuntimeDirectoryPreserve')).to.deep.equal(['yes']);
    expect(unit.execStart()[0]).to.equal('/usr/local/bin/appmesh');
    expect(unit.execStart().slice(1)).to.deep.equal(['agent', '--config', '/etc/appmesh/agent.yaml']);
  });

  it('turns on the hardening that leaves apps what they need, and none that would not', async function () {
    const unit = await readUnit();
    for (const option of [
      'ProtectKernelTunables',
      'ProtectKernelModules',
      'ProtectKernelLogs',
      'ProtectControlGroups',
      'ProtectClock',
      'ProtectHostname',
      'RestrictRealtime',
      'RestrictSUIDSGID',
      'LockPersonality',
    ]) {
      expect(unit.service(option), option).to.deep.equal(['yes']);
    }
    expect(unit.service('SystemCallArchitectures')).to.deep.equal(['native']);
    // Opt-in because they restrict every app as well (documented, commented out in the unit).
    for (const option of [
      'NoNewPrivileges',
      'PrivateTmp',
      'ProtectSystem',
      'ProtectHome',
      'MemoryDenyWriteExecute',
    ]) {
      expect(unit.service(option), option).to.deep.equal([]);
    }
  });

  it('passes systemd-analyze verify, and its exposure score stays below 7', async function () {
    const why = await hasSystemdAnalyze();
    if (why !== true) {
      console.log(`      skipped: ${why}`);
      this.skip();
    }
    // verify checks that ExecStart's program exists; point it at one that does (the install test checks
    // the real path against `make install`).
    const dir = await mkdtemp(join(tmpdir(), 'appmesh-unit-'));
    try {
      const copy = join(dir, 'appmesh-agent.service');
      await writeFile(copy, withExecStartProgram(await readUnit(), process.execPath));
      const verify = await execa('systemd-analyze', ['verify', copy], { reject: false });
      expect(verify.exitCode, `${verify.stdout}\n${verify.stderr}`).to.equal(0);
      expect(verify.stderr, verify.stderr).to.equal('');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const security = await execa('systemd-analyze', ['security', '--offline=true', unitPath], {
      reject: false,
    });
    const score = /Overall exposure level for \S+: ([\d.]+)/.exec(security.stdout)?.[1];
    if (score === undefined) {
      console.log(
        `      no exposure score from this systemd-analyze (${security.stderr.trim()}); not judged`,
      );
      return;
    }
    console.log(`      systemd-analyze security: exposure ${score}`);
    expect(Number(score)).to.be.below(7);
  });
});
