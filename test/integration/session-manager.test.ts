// SessionManager against a real Consul agent: a session bound to the agent's liveness check, renewed,
// replaced when lost, destroyed on stop and at the next start, and created once Consul comes up.
import { createServer, type Server } from 'node:http';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { Subscription } from 'rxjs';
import { SessionInfoListWire } from '../../api/consul.js';
import type { Consul } from '../../src/consul/consul.js';
import { silentLogger } from '../../src/runtime/logger.js';
import {
  agentServiceId,
  livenessCheckId,
  SESSION_RECORD_FILE,
  SessionManager,
  type SessionManagerOptions,
} from '../../controllers/session-manager.js';
import type { ConsulFixture } from '../fixtures/consul.js';
import { useConsul } from '../fixtures/consul-suite.js';
import { waitUntil } from '../fixtures/eventually.js';

/** An HTTP endpoint standing in for the agent's /healthz; `healthy = false` makes it answer 500. */
class HealthEndpoint {
  healthy = true;
  readonly #server: Server = createServer((_request, response) => {
    response.statusCode = this.healthy ? 200 : 500;
    response.end(this.healthy ? 'ok' : 'unhealthy');
  });

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/healthz`;
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

/** The session as Consul's API returns it, with the checks it is bound to. */
async function rawSession(consul: Consul, id: string) {
  const sessions = await consul.client.getJson(
    SessionInfoListWire,
    '/v1/session/info/:id',
    `/v1/session/info/${id}`,
  );
  return sessions[0];
}

/** Tracks managers, data dirs, endpoints and subscriptions of a test and ends them all afterwards. */
class Harness {
  readonly managers: SessionManager[] = [];
  readonly dirs: string[] = [];
  readonly endpoints: HealthEndpoint[] = [];
  readonly subscriptions: Subscription[] = [];

  async dataDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'appmesh-session-'));
    this.dirs.push(dir);
    return dir;
  }

  async endpoint(): Promise<{ endpoint: HealthEndpoint; url: string }> {
    const endpoint = new HealthEndpoint();
    this.endpoints.push(endpoint);
    return { endpoint, url: await endpoint.listen() };
  }

  manager(options: Partial<SessionManagerOptions> & Pick<SessionManagerOptions, 'consul' | 'dataDir'>) {
    const manager = new SessionManager({
      node: 'node-a',
      prefix: 'appmesh',
      ttlSeconds: 10,
      lockDelaySeconds: 0,
      logger: silentLogger(),
      ...options,
    });
    this.managers.push(manager);
    return manager;
  }

  /** Every value of `manager.sessions`, from the replayed one on. */
  record(manager: SessionManager): Array<string | undefined> {
    const seen: Array<string | undefined> = [];
    this.subscriptions.push(manager.sessions.subscribe((id) => seen.push(id)));
    return seen;
  }

  async end(): Promise<void> {
    for (const subscription of this.subscriptions.splice(0)) subscription.unsubscribe();
    for (const manager of this.managers.splice(0)) await manager.stop();
    for (const endpoint of this.endpoints.splice(0)) await endpoint.close();
    for (const dir of this.dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  }
}

describe('SessionManager (real Consul)', function () {
  this.timeout(60_000);
  const suite = useConsul();
  let consul: Consul;
  const harness = new Harness();
  beforeEach(function () {
    ({ consul } = suite);
  });
  afterEach(() => harness.end());

  it('creates a session bound to the liveness check and serfHealth, and records it in the data dir', async function () {
    const { url } = await harness.endpoint();
    const dataDir = await harness.dataDir();
    const manager = harness.manager({ consul, dataDir, healthUrl: url, livenessIntervalSeconds: 1 });
    await manager.start();

    const id = manager.current;
    expect(id).to.be.a('string');
    const session = await rawSession(consul, id ?? '');
    expect(session?.Behavior).to.equal('delete');
    expect(session?.TTL).to.equal('10s');
    expect(session?.NodeChecks).to.deep.equal(['serfHealth']);
    expect(session?.ServiceChecks?.map((check) => check.ID)).to.deep.equal([livenessCheckId('node-a')]);

    const services = await consul.agent.services();
    expect(services[agentServiceId('node-a')]?.Service).to.equal('appmesh-agent');
    const check = (await consul.agent.checks())[livenessCheckId('node-a')];
    expect(check?.ServiceID).to.equal(agentServiceId('node-a'));

    const record = JSON.parse(await readFile(join(dataDir, SESSION_RECORD_FILE), 'utf8')) as { id: string };
    expect(record.id).to.equal(id);
  });

  it('destroys the session, forgets it and deregisters the agent service on stop', async function () {
    const { url } = await harness.endpoint();
    const dataDir = await harness.dataDir();
    const manager = harness.manager({ consul, dataDir, healthUrl: url });
    const seen = harness.record(manager);
    await manager.start();
    const id = manager.current ?? '';
    expect(await consul.kv.put('t/session/held', 'x', { acquire: id })).to.equal(true);

    await manager.stop();
    await manager.stop(); // idempotent

    expect(manager.current).to.equal(undefined);
    expect(seen).to.deep.equal([undefined, id, undefined]);
    expect(await consul.session.info(id)).to.equal(undefined);
    expect((await consul.kv.get('t/session/held')).value).to.equal(undefined);
    expect(await consul.agent.services()).to.not.have.property(agentServiceId('node-a'));
    expect(await consul.agent.checks()).to.not.have.property(livenessCheckId('node-a'));
    const record = await readFile(join(dataDir, SESSION_RECORD_FILE), 'utf8').catch(() => 'gone');
    expect(record).to.equal('gone');
  });

  it('replaces a session destroyed behind its back at the next renew', async function () {
    const dataDir = await harness.dataDir();
    let recreations = 0;
    const manager = harness.manager({ consul, dataDir, onRecreated: () => (recreations += 1) });
    const seen = harness.record(manager);
    await manager.start();
    const first = manager.current ?? '';

    await consul.session.destroy(first);
    // Renewal runs every TTL/3 (3.3 s here), so the loss shows within that.
    const replacedAfterMs = await waitUntil('a new session', () => seen.length >= 4, 10_000);

    const second = manager.current;
    expect(second).to.be.a('string').and.not.equal(first);
    expect(seen).to.deep.equal([undefined, first, undefined, second]);
    expect(recreations).to.equal(1);
    expect(replacedAfterMs).to.be.lessThan(5_000);
    expect((await consul.session.info(second ?? ''))?.name).to.equal('appmesh/node-a');
  });

  it('destroys the session recorded by a previous run before creating its own', async function () {
    const dataDir = await harness.dataDir();
    const stale = await consul.session.create({
      name: 'appmesh/node-a',
      ttlSeconds: 60,
      behavior: 'delete',
      lockDelaySeconds: 0,
    });
    expect(await consul.kv.put('t/session/node-a', 'old', { acquire: stale })).to.equal(true);
    await writeFile(join(dataDir, SESSION_RECORD_FILE), JSON.stringify({ id: stale }));

    const manager = harness.manager({ consul, dataDir });
    await manager.start();

    expect(await consul.session.info(stale)).to.equal(undefined);
    expect((await consul.kv.get('t/session/node-a')).value).to.equal(undefined);
    expect(manager.current).to.be.a('string').and.not.equal(stale);
    expect(await consul.kv.put('t/session/node-a', 'new', { acquire: manager.current ?? '' })).to.equal(true);
  });

  it('loses the session within a few seconds once the liveness endpoint fails', async function () {
    const { endpoint, url } = await harness.endpoint();
    const dataDir = await harness.dataDir();
    const manager = harness.manager({ consul, dataDir, healthUrl: url, livenessIntervalSeconds: 1 });
    await manager.start();
    const id = manager.current ?? '';
    // Let the check run against the healthy endpoint first, so it is the failure that invalidates.
    await waitUntil('the check to run', async () => {
      const check = (await consul.agent.checks())[livenessCheckId('node-a')];
      return check?.Status === 'passing' && (check.Output ?? '').includes('200');
    });

    endpoint.healthy = false;
    const invalidatedAfterMs = await waitUntil(
      'the session to be invalidated',
      async () => (await consul.session.info(id)) === undefined,
      10_000,
    );
    // One check interval plus Consul's processing; far below the 10 s TTL.
    expect(invalidatedAfterMs).to.be.lessThan(5_000);
    if (process.env['APPMESH_TEST_TIMINGS'])
      console.log(`session invalidated ${invalidatedAfterMs} ms after /healthz failed`);

    // While unhealthy Consul refuses new sessions bound to the critical check; healthy again, one appears.
    endpoint.healthy = true;
    await waitUntil(
      'a new session once healthy again',
      () => manager.current !== undefined && manager.current !== id,
    );
  });
});

describe('SessionManager while Consul is down (real Consul)', function () {
  this.timeout(60_000);
  // A server keeps its sessions across a restart, so a session outliving the outage can be checked.
  const suite = useConsul({ mode: 'server' });
  let consul: Consul;
  let fixture: ConsulFixture;
  const harness = new Harness();
  beforeEach(function () {
    ({ consul, fixture } = suite);
  });
  afterEach(() => harness.end());

  it('starts without Consul and creates the session once Consul is up', async function () {
    const { url } = await harness.endpoint();
    const dataDir = await harness.dataDir();
    const restarting = fixture.restart({ downForMs: 3_000 });
    try {
      await waitUntil('consul to go down', () =>
        consul.agent.self().then(
          () => false,
          () => true,
        ),
      );
      const manager = harness.manager({ consul, dataDir, healthUrl: url });
      const seen = harness.record(manager);
      const started = Date.now();
      await manager.start();
      expect(Date.now() - started).to.be.lessThan(2_000);
      expect(manager.current).to.equal(undefined);
      expect(seen).to.deep.equal([undefined]);

      await restarting;
      const upAfterMs = await waitUntil(
        'a session after consul came back',
        () => manager.current !== undefined,
      );
      if (process.env['APPMESH_TEST_TIMINGS'])
        console.log(`session created ${upAfterMs} ms after consul was usable`);
      const session = await rawSession(consul, manager.current ?? '');
      expect(session?.ServiceChecks?.map((check) => check.ID)).to.deep.equal([livenessCheckId('node-a')]);
      expect(await consul.agent.services()).to.have.property(agentServiceId('node-a'));
    } finally {
      await restarting;
    }
  });

  it('gives the session up after a TTL without a renew and destroys it before creating the next', async function () {
    const dataDir = await harness.dataDir();
    const manager = harness.manager({ consul, dataDir });
    const seen = harness.record(manager);
    await manager.start();
    const first = manager.current ?? '';

    const restarting = fixture.restart({ downForMs: 12_000 });
    try {
      await waitUntil('consul to go down', () =>
        consul.agent.self().then(
          () => false,
          () => true,
        ),
      );
      // Renewed at most TTL/3 before the outage, so the TTL runs out within 10 s of it.
      await waitUntil('the session to be given up', () => manager.current === undefined, 11_000);
      await restarting;
      await waitUntil('a new session', () => manager.current !== undefined, 15_000);
    } finally {
      await restarting;
    }
    const second = manager.current;
    expect(second).to.not.equal(first);
    expect(seen).to.deep.equal([undefined, first, undefined, second]);
    // The server kept the old session through its restart; the manager destroyed it.
    expect(await consul.session.info(first)).to.equal(undefined);
  });
});
