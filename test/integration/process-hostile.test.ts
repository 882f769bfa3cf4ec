// Hostile command text in apps without `shell: true`, run as real processes: shell metacharacters inside
// quotes reach the program as literal arguments and are never interpreted, and unquoted shell operators
// are refused with a hint to set `shell: true` instead of being passed on or run through a shell.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { TestApps } from '../fixtures/process.js';
import { eventually } from '../fixtures/eventually.js';

describe('AppProcess with hostile command text (real processes)', function () {
  this.timeout(30_000);
  const apps = new TestApps();
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'appmesh-hostile-'));
  });
  afterEach(async () => {
    await apps.stopAll();
    rmSync(dir, { recursive: true, force: true });
  });

  const printArgs = `'${process.execPath}' -e "console.log(process.argv.slice(1).join('|'))"`;

  it('passes quoted shell metacharacters to the program literally, with no side effect', async function () {
    const marker = join(dir, 'pwned');
    const hostile = [
      `$(touch ${marker})`,
      `; touch ${marker}`,
      `&& touch ${marker}`,
      `\`touch ${marker}\``,
      `| tee ${marker}`,
      `> ${marker}`,
      '$HOME * ?',
    ];
    const app = apps.create({
      name: 'literal',
      command: `${printArgs} ${hostile.map((arg) => `'${arg}'`).join(' ')}`,
      behavior: { exit: 'standby' },
    });
    app.start();
    await eventually('the run to end', () => app.status().state === 'standby' && app.status().starts === 1);
    expect(app.status().return_code).to.equal(0);
    expect(app.output().lines).to.deep.equal([hostile.join('|')]);
    expect(existsSync(marker), `${marker} must not exist`).to.equal(false);
  });

  it('keeps a double-quoted argument with spaces, quotes and backslashes as one word', async function () {
    const app = apps.create({
      name: 'quoted',
      command: `${printArgs} "a  b" 'it'"'"'s' "back\\\\slash" ""`,
      behavior: { exit: 'standby' },
    });
    app.start();
    await eventually('the run to end', () => app.status().state === 'standby' && app.status().starts === 1);
    expect(app.output().lines).to.deep.equal(["a  b|it's|back\\slash|"]);
  });

  for (const [operator, command] of [
    ['|', 'echo a | cat'],
    ['&&', 'true && touch MARKER'],
    ['>', 'echo a > MARKER'],
    [';', 'true; touch MARKER'],
    ['||', 'false || touch MARKER'],
  ] as const) {
    it(`refuses the unquoted operator "${operator}" and tells the user to set shell: true`, async function () {
      const marker = join(dir, 'MARKER');
      const app = apps.create({ name: 'operator', command: command.replace('MARKER', marker) });
      app.start();
      await eventually('the start to be refused', () => app.status().last_error !== undefined);
      const status = app.status();
      expect(status.starts).to.equal(0);
      expect(status.last_error).to.include(`uses the shell operator "${operator}"`);
      expect(status.last_error).to.include('set shell: true');
      expect(existsSync(marker), `${marker} must not exist`).to.equal(false);
    });
  }

  it('refuses an unquoted $(...) rather than running it', async function () {
    const marker = join(dir, 'MARKER');
    const app = apps.create({ name: 'subst', command: `echo $(touch ${marker})` });
    app.start();
    await eventually('the start to be refused', () => app.status().last_error !== undefined);
    expect(app.status().starts).to.equal(0);
    expect(app.status().last_error).to.include('set shell: true');
    expect(existsSync(marker), `${marker} must not exist`).to.equal(false);
  });

  // The splitter does not see backticks (shell-quote keeps them in the word), so they are not refused,
  // but without a shell nothing interprets them either: the program gets them as text.
  it('passes unquoted backticks on as literal text, never running them', async function () {
    const marker = join(dir, 'MARKER');
    const app = apps.create({
      name: 'backtick',
      command: `${printArgs} \`touch ${marker}\``,
      behavior: { exit: 'standby' },
    });
    app.start();
    await eventually('the run to end', () => app.status().state === 'standby' && app.status().starts === 1);
    expect(app.output().lines).to.deep.equal([`\`touch|${marker}\``]);
    expect(existsSync(marker), `${marker} must not exist`).to.equal(false);
  });
});
