// The Consul the suites run on: its version is one hack/install-consul.sh accepts, Connect is on, and the
// fixture serves gRPC (for Connect proxies) only when a test asks for it.
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { request } from 'undici';
import { startConsul, type ConsulFixture } from '../fixtures/consul.js';

const repoRoot = resolve(fileURLToPath(import.meta.url), '../../../..');

async function getJson(url: string): Promise<{ status: number; body: unknown }> {
  const response = await request(url);
  const text = await response.body.text();
  return { status: response.statusCode, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
}

/** The `Config.Version` of `/v1/agent/self`, e.g. "1.16.1". */
async function agentVersion(fixture: ConsulFixture): Promise<string> {
  const self = await getJson(`${fixture.address}/v1/agent/self`);
  const config = (self.body as { Config?: { Version?: unknown } }).Config;
  if (typeof config?.Version !== 'string')
    throw new Error(`no Config.Version in ${JSON.stringify(self.body)}`);
  return config.Version;
}

function versionAtLeast(version: string, minimum: string): boolean {
  const parts = (v: string) => v.split('.').map((n) => Number.parseInt(n, 10));
  const [a, b] = [parts(version), parts(minimum)];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d > 0;
  }
  return true;
}

/** Whether a TCP connection to 127.0.0.1:`port` is accepted. */
function accepts(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

describe('the Consul test fixture (real Consul)', function () {
  let fixture: ConsulFixture | undefined;
  afterEach(async function () {
    await fixture?.stop();
    fixture = undefined;
  });

  it('runs a Consul at or above the minimum version hack/install-consul.sh accepts, with Connect on', async function () {
    fixture = await startConsul();
    const script = readFileSync(join(repoRoot, 'hack/install-consul.sh'), 'utf8');
    const minimum = /^MIN_VERSION="([0-9.]+)"$/m.exec(script)?.[1];
    expect(minimum, 'MIN_VERSION in hack/install-consul.sh').to.be.a('string');
    const version = await agentVersion(fixture);
    expect(versionAtLeast(version, minimum ?? '')).to.equal(true, `Consul ${version} < ${minimum}`);
    // Dev mode has Connect on: the built-in CA answers with a root.
    const roots = await getJson(`${fixture.address}/v1/connect/ca/roots`);
    expect(roots.status).to.equal(200);
    expect((roots.body as { Roots?: unknown[] }).Roots).to.have.length.greaterThan(0);
    expect(fixture.grpcPort).to.equal(undefined);
  });

  it('serves gRPC on a free port only when asked', async function () {
    fixture = await startConsul({ grpc: true });
    const port = fixture.grpcPort;
    expect(port).to.be.a('number');
    const self = await getJson(`${fixture.address}/v1/agent/self`);
    const debug = (self.body as { DebugConfig?: { GRPCPort?: unknown } }).DebugConfig;
    expect(debug?.GRPCPort).to.equal(port);
    expect(await accepts(port ?? 0)).to.equal(true);
  });
});
