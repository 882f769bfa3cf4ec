// The request guards of the agent's HTTP server, rule by rule, and the token file the agent generates
// and the CLI finds.
import { expect } from 'chai';
import { mkdtemp, rm, stat, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dataDirToken } from '../../src/agent/api-token.js';
import {
  bearerToken,
  hostAllowed,
  hostName,
  isJsonContentType,
  jsonDepthOver,
  MAX_JSON_DEPTH,
  originAllowed,
  tokenMatches,
} from '../../src/agent/http-guards.js';
import { agentToken } from '../../src/cli/agent-client.js';

describe('HTTP guards', function () {
  it('reads the bearer token whatever the case of the scheme', function () {
    expect(bearerToken('Bearer abc')).to.equal('abc');
    expect(bearerToken('bearer abc')).to.equal('abc');
    expect(bearerToken('BEARER \t abc ')).to.equal('abc');
    expect(bearerToken('Basic abc')).to.equal(undefined);
    expect(bearerToken('Bearer')).to.equal(undefined);
    expect(bearerToken('Bearerabc')).to.equal(undefined);
    expect(bearerToken(undefined)).to.equal(undefined);
  });

  it('matches tokens exactly', function () {
    expect(tokenMatches('abc', 'abc')).to.equal(true);
    expect(tokenMatches('abd', 'abc')).to.equal(false);
    expect(tokenMatches('ab', 'abc')).to.equal(false);
    expect(tokenMatches(undefined, 'abc')).to.equal(false);
  });

  it('accepts loopback names and the configured hosts only (DNS rebinding is refused)', function () {
    const configured = new Set(['10.0.0.5', 'node1.internal']);
    for (const host of [
      '127.0.0.1:6060',
      '127.0.0.2',
      'localhost:6060',
      'LOCALHOST',
      '[::1]:6060',
      '10.0.0.5:6060',
      'node1.internal',
    ]) {
      expect(hostAllowed(host, configured), host).to.equal(true);
    }
    for (const host of ['attacker.example:6060', '10.0.0.6', '127.0.0.1.attacker.example', '[::2]:6060']) {
      expect(hostAllowed(host, configured), host).to.equal(false);
    }
    expect(hostAllowed(undefined, configured)).to.equal(true);
    expect(hostName('[::1]:6060')).to.equal('::1');
    expect(hostName('Example.COM:80')).to.equal('example.com');
  });

  it('accepts no Origin or the agent’s own, nothing else', function () {
    expect(originAllowed(undefined, '127.0.0.1:6060', 'http')).to.equal(true);
    expect(originAllowed('http://127.0.0.1:6060', '127.0.0.1:6060', 'http')).to.equal(true);
    expect(originAllowed('https://127.0.0.1:6060', '127.0.0.1:6060', 'http')).to.equal(false);
    expect(originAllowed('http://attacker.example:6060', '127.0.0.1:6060', 'http')).to.equal(false);
    expect(originAllowed('http://attacker.example:6060', 'attacker.example:6060', 'https')).to.equal(false);
    expect(originAllowed('null', '127.0.0.1:6060', 'http')).to.equal(false);
    expect(originAllowed('http://127.0.0.1:6061', '127.0.0.1:6060', 'http')).to.equal(false);
  });

  it('takes application/json only as JSON', function () {
    expect(isJsonContentType('application/json')).to.equal(true);
    expect(isJsonContentType('Application/JSON; charset=utf-8')).to.equal(true);
    expect(isJsonContentType('text/plain')).to.equal(false);
    expect(isJsonContentType('application/jsonp')).to.equal(false);
    expect(isJsonContentType('application/x-www-form-urlencoded')).to.equal(false);
    expect(isJsonContentType(undefined)).to.equal(false);
  });

  it('measures nesting without recursion, ignoring brackets in strings', function () {
    const nested = (n: number) => '['.repeat(n) + ']'.repeat(n);
    expect(jsonDepthOver(nested(MAX_JSON_DEPTH), MAX_JSON_DEPTH)).to.equal(false);
    expect(jsonDepthOver(nested(MAX_JSON_DEPTH + 1), MAX_JSON_DEPTH)).to.equal(true);
    expect(jsonDepthOver(nested(1_000_000), MAX_JSON_DEPTH)).to.equal(true);
    expect(jsonDepthOver(JSON.stringify({ a: '[[[[[[[[\\"{{{{' }), 2)).to.equal(false);
    expect(jsonDepthOver('{"a":{"b":{}}}', 2)).to.equal(true);
  });
});

describe('API token file', function () {
  let dir: string;
  beforeEach(async function () {
    dir = await mkdtemp(join(tmpdir(), 'appmesh-token-'));
  });
  afterEach(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  it('is generated once, 0600 in a 0700 dir, and reused', async function () {
    const dataDir = join(dir, 'data');
    const first = await dataDirToken(dataDir);
    expect(first.generated).to.equal(true);
    expect(first.token).to.match(/^[A-Za-z0-9_-]{43}$/);
    expect((await stat(first.path)).mode & 0o777).to.equal(0o600);
    expect((await stat(dataDir)).mode & 0o777).to.equal(0o700);
    const second = await dataDirToken(dataDir);
    expect(second).to.deep.include({ token: first.token, generated: false, tightened: false });
    await chmod(first.path, 0o644);
    expect((await dataDirToken(dataDir)).tightened).to.equal(true);
    expect((await stat(first.path)).mode & 0o777).to.equal(0o600);
  });

  it('is an error when empty, never "no authentication"', async function () {
    await writeFile(join(dir, 'api-token'), '\n', { mode: 0o600 });
    const err = (await dataDirToken(dir).catch((e: unknown) => e)) as Error;
    expect(err.message).to.contain(`${join(dir, 'api-token')} is empty`);
  });

  it('is found by the CLI in flag, env, then data dir order, and only for a loopback agent', async function () {
    const file = join(dir, 'flag-token');
    await writeFile(file, 'from-flag\n');
    const { token } = await dataDirToken(dir);
    const env = { APPMESH_DATA_DIR: dir };
    expect(agentToken('http://127.0.0.1:6060', file, { ...env, APPMESH_API_TOKEN: 'e' })).to.equal(
      'from-flag',
    );
    expect(agentToken('http://127.0.0.1:6060', undefined, { ...env, APPMESH_API_TOKEN_FILE: file })).to.equal(
      'from-flag',
    );
    expect(agentToken('http://127.0.0.1:6060', undefined, { ...env, APPMESH_API_TOKEN: 'e' })).to.equal('e');
    expect(agentToken('http://127.0.0.1:6060', undefined, env)).to.equal(token);
    expect(agentToken('http://[::1]:6060', undefined, env)).to.equal(token);
    expect(agentToken('http://10.0.0.5:6060', undefined, env), 'never sent to another host').to.equal(
      undefined,
    );
    const empty = join(dir, 'empty');
    await writeFile(empty, '');
    expect(() => agentToken('http://127.0.0.1:6060', empty, {})).to.throw(
      `--agent-token-file ${empty} is empty`,
    );
  });
});
