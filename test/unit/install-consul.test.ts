// hack/install-consul.sh's choices, with stand-in `consul` binaries (shell scripts that print a version):
// it takes a user's Consul at or above the minimum whatever its version, ignores older ones, and refuses to
// build anything but the pinned MPL-2.0 release.
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { execa } from 'execa';

const script = resolve(fileURLToPath(import.meta.url), '../../../../hack/install-consul.sh');

describe('hack/install-consul.sh', function () {
  let dir: string;
  beforeEach(async function () {
    dir = await mkdtemp(join(tmpdir(), 'appmesh-install-consul-'));
  });
  afterEach(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  /** A stand-in binary whose `version` prints `Consul v<version>`. */
  async function fakeConsul(version: string): Promise<string> {
    const path = join(dir, `consul-${version}`);
    await writeFile(path, `#!/bin/sh\necho "Consul v${version}"\necho "Revision abc"\n`);
    await chmod(path, 0o755);
    return path;
  }

  /** Runs the script with no consul on PATH, no Go, and an empty cache. */
  function run(env: Record<string, string>) {
    return execa('bash', [script], {
      reject: false,
      env: { PATH: '/usr/bin:/bin', HOME: dir, XDG_CACHE_HOME: join(dir, 'cache'), ...env },
      extendEnv: false,
    });
  }

  it('uses a CONSUL_BIN at or above the minimum, newer releases included', async function () {
    for (const version of ['1.16.1', '1.20.6', '1.21.5']) {
      const bin = await fakeConsul(version);
      const result = await run({ CONSUL_BIN: bin });
      expect(result.exitCode, result.stderr).to.equal(0);
      expect(result.stdout.trim()).to.equal(bin);
    }
  });

  it('passes over a CONSUL_BIN older than the minimum, saying why', async function () {
    const bin = await fakeConsul('1.15.4');
    const result = await run({ CONSUL_BIN: bin, APPMESH_CONSUL_VERSION: '1.20.6' });
    expect(result.stderr).to.include(`CONSUL_BIN=${bin} is not an executable Consul >= 1.16.1`);
    expect(result.stdout).to.equal('');
  });

  it('refuses to build a version under the Business Source License', async function () {
    for (const version of ['1.17.0', '1.20.6', '1.16.5']) {
      const result = await run({ APPMESH_CONSUL_VERSION: version });
      expect(result.exitCode).to.equal(1);
      expect(result.stderr).to.include(`refusing to build Consul ${version}`);
      expect(result.stderr).to.include('CONSUL_BIN=/path/to/consul');
    }
  });
});
