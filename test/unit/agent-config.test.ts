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
    // A label the leader would refuse in the node report stops the agent at start, naming it.
    const long = (await loadAgentConfig({ label: [`zone=${'a'.repeat(257)}`], dataDir: dir }, {}).catch(
      (e: unknown) => e,
    )) as Error;
    expect(long.message).to.contain('node.labels.zone: expected a label value of at most 256 characters');
  });

  it('refuses to listen beyond loopback without TLS unless --insecure-listen says so', async function () {
    const refused = async (flags: Parameters<typeof loadAgentConfig>[0], env: NodeJS.ProcessEnv = {}) =>
      ((await loadAgentConfig({ dataDir: dir, ...flags }, env).catch((e: unknown) => e)) as Error).message;
    expect(await refused({ listen: '0.0.0.0:6060' }, { APPMESH_API_TOKEN: 't' })).to.contain(
      'listen 0.0.0.0:6060 is beyond loopback, so the API needs TLS: set --tls-cert and --tls-key',
    );
    expect(await refused({ listen: '[::]:6060' })).to.contain('listen [::]:6060 is beyond loopback');
    expect(await refused({ listen: '10.1.2.3:6060', tlsCert: '/etc/c.pem' })).to.contain(
      'needs both a certificate and a key',
    );
    const withTls = await loadAgentConfig(
      { listen: '0.0.0.0:6060', dataDir: dir, tlsCert: '/etc/c.pem', tlsKey: '/etc/k.pem' },
      {},
    );
    expect(withTls.tls).to.deep.equal({ certFile: '/etc/c.pem', keyFile: '/etc/k.pem' });
    const insecure = await loadAgentConfig(
      { listen: '0.0.0.0:6060', dataDir: dir },
      { APPMESH_INSECURE_LISTEN: 'true' },
    );
    expect(insecure).to.include({ listenHost: '0.0.0.0', tls: undefined });
    // 127.0.0.0/8 and localhost are loopback: plain HTTP is fine there.
    for (const listen of ['127.0.0.2:6060', 'localhost:6060', '[::1]:6060']) {
      expect((await loadAgentConfig({ listen, dataDir: dir }, {})).tls, listen).to.equal(undefined);
    }
  });

  it('leaves the token to the data dir when none is set, and refuses an empty one naming the file', async function () {
    expect((await loadAgentConfig({ dataDir: dir }, {})).apiToken).to.equal(undefined);
    const empty = join(dir, 'empty-token');
    await writeFile(empty, '  \n');
    const err = (await loadAgentConfig({ dataDir: dir, apiTokenFile: empty }, {}).catch(
      (e: unknown) => e,
    )) as Error;
    expect(err.message).to.equal(
      `apiTokenFile ${empty} is empty: put the API token in it, or remove the setting`,
    );
    const file = join(dir, 'token');
    await writeFile(file, 'from-a-file\n');
    expect((await loadAgentConfig({ dataDir: dir, apiTokenFile: file }, {})).apiToken).to.equal(
      'from-a-file',
    );
    const yaml = join(dir, 'empty-token.yaml');
    await writeFile(yaml, 'apiToken: ""\n');
    const inFile = (await loadAgentConfig({ config: yaml, dataDir: dir }, {}).catch(
      (e: unknown) => e,
    )) as Error;
    expect(inFile.message).to.contain('apiToken is empty');
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
