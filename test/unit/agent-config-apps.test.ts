// The agent settings that shape apps' processes (issue 14): the env allow/deny lists and the cap on the
// sum of output buffers, with their defaults; the shipped manifests/agent.yaml with them uncommented decodes.
import { expect } from 'chai';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_MAX_TOTAL_OUTPUT_BUFFER_BYTES, loadAgentConfig } from '../../src/agent/config.js';

describe('agent config: app environment and output budget', function () {
  let dir: string;
  before(async function () {
    dir = await mkdtemp(join(tmpdir(), 'appmesh-config-apps-'));
  });
  after(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  it('defaults to no extra variables, the default deny list and a 512 MiB budget', async function () {
    const config = await loadAgentConfig({ dataDir: dir }, {});
    expect(config.appEnv).to.deep.equal({ allow: [], deny: undefined });
    expect(config.maxTotalOutputBufferBytes).to.equal(DEFAULT_MAX_TOTAL_OUTPUT_BUFFER_BYTES);
    expect(DEFAULT_MAX_TOTAL_OUTPUT_BUFFER_BYTES).to.equal(512 * 1024 * 1024);
  });

  it('reads env.allow, env.deny and maxTotalOutputBufferBytes from the file', async function () {
    const file = join(dir, 'agent.yaml');
    await writeFile(
      file,
      [
        'env:',
        '  allow: [HTTP_PROXY, "MY_*"]',
        '  deny: ["*TOKEN*"]',
        'maxTotalOutputBufferBytes: 1048576',
      ].join('\n'),
    );
    const config = await loadAgentConfig({ config: file, dataDir: dir }, {});
    expect(config.appEnv).to.deep.equal({ allow: ['HTTP_PROXY', 'MY_*'], deny: ['*TOKEN*'] });
    expect(config.maxTotalOutputBufferBytes).to.equal(1048576);
  });

  it('rejects an unknown field under env, naming its path', async function () {
    const file = join(dir, 'bad.yaml');
    await writeFile(file, 'env: { allowed: [X] }\n');
    let message = '';
    try {
      await loadAgentConfig({ config: file, dataDir: dir }, {});
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).to.include('env.allowed: unknown field');
  });

  it('decodes the env lines of manifests/agent.yaml once uncommented', async function () {
    const shipped = await readFile(new URL('../../../manifests/agent.yaml', import.meta.url), 'utf8');
    const lines = shipped.split('\n');
    const at = lines.findIndex((line) => line.startsWith('# env:'));
    const section = lines.slice(at, at + 3).map((line) => line.replace(/^# /, ''));
    const budget = lines.find((line) => line.startsWith('# maxTotalOutputBufferBytes:'))?.replace(/^# /, '');
    const file = join(dir, 'shipped.yaml');
    await writeFile(file, [...section, budget ?? ''].join('\n'));
    const config = await loadAgentConfig({ config: file, dataDir: dir }, {});
    expect(config.appEnv.allow).to.include('HTTP_PROXY');
    expect(config.maxTotalOutputBufferBytes).to.equal(DEFAULT_MAX_TOTAL_OUTPUT_BUFFER_BYTES);
  });
});
