// `appmesh apply`, `diff` and `delete` against a real Consul, through the built CLI: created/configured/
// unchanged, all-or-nothing validation, check-and-set under a race, diff's exit codes, clear errors.
import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { applyTask, ConcurrentChangeError } from '../../src/cli/task-store.js';
import { CLI } from '../fixtures/agent.js';
import { useConsul } from '../fixtures/consul-suite.js';

describe('cli apply, diff and delete (real Consul)', function () {
  this.timeout(60_000);
  const suite = useConsul();
  let dir = '';

  before(async function () {
    dir = await mkdtemp(join(tmpdir(), 'appmesh-cli-'));
  });
  after(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  const cli = (...args: string[]) =>
    execa('node', [CLI, ...args, '--consul-addr', suite.fixture.address], { reject: false, stdin: 'ignore' });

  function task(name: string, replication: number, extra = ''): string {
    return [
      'apiVersion: appmesh/v1',
      'kind: ClusterTask',
      `metadata: { name: ${name} }`,
      `spec: { replication: ${replication}, content: { command: "sleep 600" }${extra} }`,
    ].join('\n');
  }

  async function manifest(name: string, ...documents: string[]): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, documents.join('\n---\n'));
    return path;
  }

  async function stored(name: string): Promise<unknown> {
    const entry = (await suite.consul.kv.get(`appmesh/cluster/tasks/${name}`)).value;
    return entry?.value ? (JSON.parse(entry.value) as unknown) : undefined;
  }

  it('creates, then reports unchanged, then configures a task', async function () {
    const file = await manifest('web.yaml', task('web', 2));
    const created = await cli('apply', '-f', file);
    expect(created.stdout, created.stderr).to.equal('clustertask/web created');
    expect(created.exitCode).to.equal(0);
    expect(await stored('web')).to.deep.equal({
      replication: 2,
      content: { name: 'web', command: 'sleep 600' },
    });

    const again = await cli('apply', '-f', file);
    expect(again.stdout).to.equal('clustertask/web unchanged');

    await manifest('web.yaml', task('web', 3));
    const changed = await cli('apply', '-f', file);
    expect(changed.stdout).to.equal('clustertask/web configured');
    expect(await stored('web')).to.deep.include({ replication: 3 });
  });

  it('writes nothing when one document of the set is invalid, and lists the problem', async function () {
    const file = await manifest('set.yaml', task('first', 1), task('second', -2), task('third', 1));
    const result = await cli('apply', '-f', file);
    expect(result.exitCode).to.equal(1);
    expect(result.stderr).to.contain(`${file}:doc 2: spec.replication: expected NonNegativeInt, got -2`);
    expect(result.stderr).to.contain('nothing was written');
    expect(await stored('first')).to.equal(undefined);
    expect(await stored('third')).to.equal(undefined);
  });

  it('changes nothing with --dry-run=server and says what it would do', async function () {
    const file = await manifest('dry.yaml', task('dry', 1));
    const result = await cli('apply', '-f', file, '--dry-run=server');
    expect(result.stdout).to.equal('clustertask/dry created (server dry run)');
    expect(await stored('dry')).to.equal(undefined);
  });

  it('detects a write that races between its read and its check-and-set, and keeps the other write', async function () {
    const key = 'appmesh/cluster/tasks/race';
    await suite.consul.kv.put(key, { replication: 1, content: { name: 'race', command: 'sleep 1' } });
    const theirs = { replication: 5, content: { name: 'race', command: 'sleep 5' } };
    const mine = { replication: 2, content: { name: 'race', command: 'sleep 2' } };
    let caught: unknown;
    try {
      await applyTask(suite.consul, 'appmesh', 'race', mine, true, {
        beforeWrite: async () => {
          await suite.consul.kv.put(key, theirs);
        },
      });
    } catch (err) {
      caught = err;
    }
    expect(caught).to.be.instanceOf(ConcurrentChangeError);
    expect((caught as Error).message).to.match(
      /clustertask\/race was changed by another writer .* nothing was overwritten/,
    );
    expect(await stored('race')).to.deep.equal(theirs);
  });

  it('loses no update when many applies race: each either wins its write or reports the conflict', async function () {
    const files = await Promise.all(
      [1, 2, 3, 4, 5, 6].map((n) => manifest(`racer-${n}.yaml`, task('racer', n))),
    );
    await cli('apply', '-f', files[0] ?? '');
    const results = await Promise.all(files.map((file) => cli('apply', '-f', file)));
    for (const result of results) {
      const reported =
        result.stdout === 'clustertask/racer configured' || result.stdout === 'clustertask/racer unchanged';
      const conflict = result.exitCode === 1 && /changed by another writer/.test(result.stderr);
      expect(reported || conflict, `${result.stdout} ${result.stderr}`).to.be.true;
    }
    // What is stored is one of the values an apply said it wrote (or found already there).
    const final = (await stored('racer')) as { replication: number };
    const winners = results.flatMap((result, index) => (result.exitCode === 0 ? [index + 1] : []));
    expect(winners).to.include(final.replication);
  });

  it('diff exits 0 when live matches, 1 with a unified diff when it differs', async function () {
    const file = await manifest('diffed.yaml', task('diffed', 1));
    const absent = await cli('diff', '-f', file);
    expect(absent.exitCode).to.equal(1);
    expect(absent.stdout).to.contain('+++ manifest/clustertask/diffed');
    await cli('apply', '-f', file);
    const same = await cli('diff', '-f', file);
    expect(same.exitCode, same.stderr).to.equal(0);
    expect(same.stdout).to.equal('');
    await manifest('diffed.yaml', task('diffed', 4));
    const differs = await cli('diff', '-f', file);
    expect(differs.exitCode).to.equal(1);
    expect(differs.stdout).to.contain('-replication: 1');
    expect(differs.stdout).to.contain('+replication: 4');
  });

  it('deletes tasks by name and from a file; a missing task is a clear error', async function () {
    const file = await manifest('gone.yaml', task('gone', 1), task('gone2', 1));
    await cli('apply', '-f', file);
    const byName = await cli('delete', 'task', 'gone');
    expect(byName.stdout).to.equal('clustertask/gone deleted');
    expect(await stored('gone')).to.equal(undefined);

    const missing = await cli('delete', 'task', 'gone');
    expect(missing.exitCode).to.equal(1);
    expect(missing.stderr.trim()).to.equal(
      'error: clustertask/gone not found (no key appmesh/cluster/tasks/gone); `appmesh get tasks` lists them',
    );
    const ignored = await cli('delete', 'task', 'gone', '--ignore-not-found');
    expect(ignored.exitCode).to.equal(0);

    const fromFile = await cli('delete', '-f', file);
    expect(fromFile.exitCode).to.equal(1); // gone is already gone
    expect(fromFile.stdout).to.equal('clustertask/gone2 deleted');
  });

  it('gets tasks as a table and exits 2 on a usage error', async function () {
    const table = await cli('get', 'tasks');
    expect(table.exitCode, table.stderr).to.equal(0);
    expect(table.stdout.split('\n')[0]).to.match(
      /^NAME\s+DESIRED\s+SCHEDULED\s+RUNNING\s+PASSING\s+PORT\s+MEMORY\s+NODES\s+AGE$/,
    );
    const usage = await cli('get', 'tasks', '-o', 'xml');
    expect(usage.exitCode).to.equal(2);
  });
});
