// The shipped Prometheus scrape configs pass `promtool check config` where this machine's promtool can
// judge them. Debian's Prometheus is built without Consul discovery: there the Consul file is checked
// with its consul_sd_configs swapped for a static target (relabelling and the rest still checked), and
// the test says so. Without promtool at all the tests are skipped, saying why.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { execa } from 'execa';
import { parse, stringify } from 'yaml';

const MANIFESTS = resolve(fileURLToPath(import.meta.url), '../../../../manifests');

function findPromtool(): string | undefined {
  try {
    return execFileSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

describe('shipped Prometheus configs (promtool check config)', function () {
  this.timeout(60_000);
  const promtool = findPromtool();
  let dir = '';

  before(async function () {
    if (promtool === undefined) {
      console.log('      (skipped: no promtool on PATH; apt-get install prometheus provides it)');
      this.skip();
    }
    dir = await mkdtemp(join(tmpdir(), 'appmesh-promtool-'));
  });

  after(async function () {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const check = (file: string) =>
    execa(promtool ?? 'promtool', ['check', 'config', file], { reject: false, stdin: 'ignore' });

  it('accepts manifests/prometheus-static.yml', async function () {
    const result = await check(join(MANIFESTS, 'prometheus-static.yml'));
    expect(result.exitCode, result.stdout + result.stderr).to.equal(0);
  });

  it('accepts manifests/prometheus-consul.yml (its discovery block only where promtool has Consul SD)', async function () {
    const file = join(MANIFESTS, 'prometheus-consul.yml');
    const probe = join(dir, 'probe.yml');
    await writeFile(
      probe,
      'scrape_configs:\n  - job_name: probe\n    consul_sd_configs: [{ server: "127.0.0.1:8500" }]\n',
    );
    const hasConsulSd = (await check(probe)).exitCode === 0;
    let target = file;
    if (!hasConsulSd) {
      console.log(
        '      (this promtool is built without Consul SD: checking the file with consul_sd_configs replaced by a static target)',
      );
      const config = parse(await readFile(file, 'utf8')) as { scrape_configs: Record<string, unknown>[] };
      for (const job of config.scrape_configs) {
        expect(job['consul_sd_configs'], 'the Consul job uses consul_sd_configs').to.be.an('array');
        delete job['consul_sd_configs'];
        job['static_configs'] = [{ targets: ['127.0.0.1:6060'] }];
      }
      target = join(dir, 'prometheus-consul-static.yml');
      await writeFile(target, stringify(config));
    }
    const result = await check(target);
    expect(result.exitCode, result.stdout + result.stderr).to.equal(0);
  });
});
