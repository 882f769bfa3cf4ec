// The optional output file: an app's lines land in <outputDir>/<name>.out, which is rotated once it
// grows past its bound.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { OutputFile } from '../../src/process/output-file.js';
import { silentLogger } from '../../src/runtime/logger.js';
import { TestApps } from '../fixtures/process.js';
import { eventually } from '../fixtures/eventually.js';

describe('app output file', function () {
  this.timeout(30_000);
  const apps = new TestApps();
  let dir = '';
  beforeEach(async function () {
    dir = await mkdtemp(join(tmpdir(), 'appmesh-output-'));
  });
  afterEach(async function () {
    await apps.stopAll();
    await rm(dir, { recursive: true, force: true });
  });

  it("appends an app's output to <outputDir>/<name>.out, creating the directory", async function () {
    const outputDir = join(dir, 'output');
    const app = apps.create(
      { name: 'writer', shell: true, command: 'echo out; echo err >&2', behavior: { exit: 'standby' } },
      { outputDir },
    );
    app.start();
    await eventually('standby', () => app.status().state === 'standby');
    await app.stop();
    const text = await readFile(join(outputDir, 'writer.out'), 'utf8');
    expect(text.split('\n').sort()).to.deep.equal(['', 'err', 'out']);
  });

  it('rotates the file to .out.1 when it would pass its size bound', async function () {
    const file = new OutputFile(dir, 'app', silentLogger(), 20);
    for (const line of ['aaaaaaaa', 'bbbbbbbb', 'cccccccc', 'dddddddd']) file.writeLine(line);
    await file.close();
    expect(await readFile(join(dir, 'app.out.1'), 'utf8')).to.equal('aaaaaaaa\nbbbbbbbb\n');
    expect(await readFile(join(dir, 'app.out'), 'utf8')).to.equal('cccccccc\ndddddddd\n');
  });
});
