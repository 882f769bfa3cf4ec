// Manifest loading: every problem in every document is listed as `FILE[:doc N]: path: message`, one bad
// document fails the whole set, and raw App Mesh task JSON is a ClusterTask named by content.name.
import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadManifests, ManifestError } from '../../src/cli/manifests.js';

describe('cli manifests', function () {
  let dir = '';
  beforeEach(async function () {
    dir = await mkdtemp(join(tmpdir(), 'appmesh-manifests-'));
  });
  afterEach(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  async function file(name: string, text: string): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, text);
    return path;
  }

  async function problemsOf(paths: string[]): Promise<readonly string[]> {
    try {
      await loadManifests(paths);
    } catch (err) {
      if (err instanceof ManifestError) return err.problems;
      throw err;
    }
    throw new Error('expected the manifests to be rejected');
  }

  it('decodes a ClusterTask and an Application from one multi-document file', async function () {
    const path = await file(
      'set.yaml',
      [
        'apiVersion: appmesh/v1',
        'kind: ClusterTask',
        'metadata: { name: web, labels: { team: a }, annotations: { note: x } }',
        'spec: { replication: 2, port: 8080, content: { command: "sleep 60" } }',
        '---',
        'apiVersion: appmesh/v1',
        'kind: Application',
        'metadata: { name: hello }',
        'spec: { command: "sleep 5" }',
      ].join('\n'),
    );
    const manifests = await loadManifests([path]);
    expect(manifests.map((m) => `${m.kind}/${m.name} ${m.source}`)).to.deep.equal([
      `ClusterTask/web ${path}:doc 1`,
      `Application/hello ${path}:doc 2`,
    ]);
    const task = manifests[0];
    expect(task?.kind === 'ClusterTask' ? task.spec : undefined).to.deep.equal({
      replication: 2,
      port: 8080,
      content: { name: 'web', command: 'sleep 60' },
    });
  });

  it('lists every problem of every document, naming file, document and path', async function () {
    const good = await file(
      'a.yaml',
      'apiVersion: appmesh/v1\nkind: ClusterTask\nmetadata: { name: ok }\nspec: { replication: 1, content: { command: x } }\n',
    );
    const bad = await file(
      'b.yaml',
      [
        'apiVersion: appmesh/v1',
        'kind: ClusterTask',
        'metadata: { name: web }',
        'spec: { replication: -1, content: { command: 42 } }',
        '---',
        'apiVersion: appmesh/v2',
        'kind: Pod',
        'metadata: { name: x }',
        'spec: {}',
      ].join('\n'),
    );
    const problems = await problemsOf([good, bad]);
    expect(problems).to.include(`${bad}:doc 1: spec.replication: expected NonNegativeInt, got -1`);
    expect(problems.some((p) => p.startsWith(`${bad}:doc 1: spec.content.command:`))).to.be.true;
    expect(problems.some((p) => p.startsWith(`${bad}:doc 2: apiVersion:`))).to.be.true;
    expect(problems.some((p) => p.startsWith(`${bad}:doc 2: kind:`))).to.be.true;
    expect(problems.some((p) => p.startsWith(good))).to.be.false;
  });

  it('accepts raw App Mesh task JSON as a ClusterTask named by content.name', async function () {
    const path = await file(
      'task.json',
      JSON.stringify({
        replication: 1,
        port: 6666,
        content: { name: 'myapp', shell: true, command: 'sleep 30' },
      }),
    );
    const [manifest] = await loadManifests([path]);
    expect(manifest?.kind).to.equal('ClusterTask');
    expect(manifest?.name).to.equal('myapp');
  });

  it('rejects raw task JSON without a content.name', async function () {
    const path = await file('task.json', JSON.stringify({ replication: 1, content: { command: 'x' } }));
    const [problem] = await problemsOf([path]);
    expect(problem).to.match(new RegExp(`^${path}: content\\.name: `));
  });

  it('reads a directory’s manifest files in name order and rejects duplicates', async function () {
    const task =
      'apiVersion: appmesh/v1\nkind: ClusterTask\nmetadata: { name: same }\nspec: { replication: 1, content: { command: x } }\n';
    await file('1.yaml', task);
    await file('2.yml', task);
    await file('notes.txt', 'not a manifest');
    const problems = await problemsOf([dir]);
    expect(problems).to.deep.equal([
      `${join(dir, '2.yml')}: metadata.name: clustertask/same is already defined in ${join(dir, '1.yaml')}`,
    ]);
  });

  it('reports YAML syntax errors with the file', async function () {
    const path = await file('broken.yaml', 'kind: [unclosed\n');
    const [problem] = await problemsOf([path]);
    expect(problem).to.match(new RegExp(`^${path}: \\(root\\): not valid YAML`));
  });
});
