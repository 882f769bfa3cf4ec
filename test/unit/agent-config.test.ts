// Agent settings: file, then APPMESH_* variables, then flags, with nested sections merged field by field.
import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAgentConfig } from '../../src/agent/config.js';

describe('agent config', function () {
  let dir: string;
  before(async function () {
    dir = await mkdtemp(join(tmpdir(), 'appmesh-config-'));
  });
  after(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  it('is stand-alone on loopback when nothing names a Consul', async function () {
    const config = await loadAgentConfig({ dataDir: dir }, {});
    expect(config).to.include({ listenHost: '127.0.0.1', listenPort: 6060, cluster: undefined });
  });

  it('lets a flag override one TLS setting without dropping the others from the file', async function () {
    const file = join(dir, 'agent.yaml');
    await writeFile(
      file,
      [
        'consul:',
        '  url: https://127.0.0.1:8501',
        '  tls: { certFile: /etc/c.pem, keyFile: /etc/k.pem, caFile: /etc/old-ca.pem }',
        'node: { name: n1, labels: { zone: east } }',
      ].join('\n'),
    );
    const config = await loadAgentConfig(
      { config: file, dataDir: dir, consulTls: { caFile: '/etc/ca.pem' }, label: ['tier=web'] },
      { APPMESH_SESSION_TTL: '20s' },
    );
    expect(config.cluster?.consul.tls).to.deep.equal({
      certFile: '/etc/c.pem',
      keyFile: '/etc/k.pem',
      caFile: '/etc/ca.pem',
    });
    expect(config.cluster).to.include({ nodeName: 'n1', sessionTtlSeconds: 20, prefix: 'appmesh' });
    expect(config.cluster?.labels).to.deep.equal({ tier: 'web' });
  });

  it('names the field and the source of a bad value', async function () {
    const file = join(dir, 'bad.yaml');
    await writeFile(file, 'consul: { sessionTTL: 5s, colour: blue }\n');
    const err = (await loadAgentConfig({ config: file, dataDir: dir }, {}).catch((e: unknown) => e)) as Error;
    expect(err.message).to.contain('consul.colour: unknown field');
    const ttl = (await loadAgentConfig(
      { consulAddr: '127.0.0.1:8500', sessionTtl: '5s', dataDir: dir },
      {},
    ).catch((e: unknown) => e)) as Error;
    expect(ttl.message).to.contain('consul.sessionTTL: Consul accepts 10s..86400s, got 5s');
    const label = (await loadAgentConfig({ label: ['novalue'], dataDir: dir }, {}).catch(
      (e: unknown) => e,
    )) as Error;
    expect(label.message).to.contain('--label: expected key=value');
  });

  it('refuses to listen beyond loopback without an API token', async function () {
    const err = (await loadAgentConfig({ listen: '0.0.0.0:6060', dataDir: dir }, {}).catch(
      (e: unknown) => e,
    )) as Error;
    expect(err.message).to.contain('an API token is required');
    const withToken = await loadAgentConfig(
      { listen: '0.0.0.0:6060', dataDir: dir },
      { APPMESH_API_TOKEN: 't' },
    );
    expect(withToken.listenHost).to.equal('0.0.0.0');
  });

  it('blocks and writes on change by default; polls and heartbeats as the benchmark baseline', async function () {
    const blocking = await loadAgentConfig({ consulAddr: '127.0.0.1:8500', dataDir: dir }, {});
    expect(blocking.cluster).to.include({ pollIntervalMs: undefined, reportIntervalMs: undefined });
    const polling = await loadAgentConfig(
      { consulAddr: '127.0.0.1:8500', dataDir: dir },
      { APPMESH_POLL_INTERVAL: '5s', APPMESH_REPORT_INTERVAL: '10s' },
    );
    expect(polling.cluster).to.include({ pollIntervalMs: 5_000, reportIntervalMs: 10_000 });
    const zero = (await loadAgentConfig(
      { consulAddr: '127.0.0.1:8500', dataDir: dir },
      { APPMESH_POLL_INTERVAL: '0s' },
    ).catch((e: unknown) => e)) as Error;
    expect(zero.message).to.contain('consul.pollInterval: expected more than 0s');
  });
});
