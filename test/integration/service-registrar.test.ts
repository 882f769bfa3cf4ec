// ServiceRegistrar against a real Consul agent: registers running apps with a port, writes nothing when
// nothing changed, deregisters stopped ones, and its resync removes leftovers of this node only and
// restores what the agent lost. The reconciler is driven directly, key by key.
import { expect } from 'chai';
import { decodeAppSpec, type AppSpec } from '../../api/app.js';
import type { DesiredApps } from '../../controllers/app-supervisor.js';
import { RESYNC_KEY, ServiceRegistrar } from '../../controllers/service-registrar/registrar.js';
import type { AppState } from '../../src/process/index.js';
import { silentLogger } from '../../src/runtime/logger.js';
import { useConsul } from '../fixtures/consul-suite.js';

function spec(value: Record<string, unknown>): AppSpec {
  const decoded = decodeAppSpec(value, 'test app');
  if (decoded._tag === 'Left') throw new Error(decoded.left.message);
  return decoded.right.spec;
}

describe('ServiceRegistrar (real Consul)', function () {
  this.timeout(60_000);
  const suite = useConsul();
  const signal = new AbortController().signal;
  let desired: Map<string, { spec: AppSpec; owner: 'local' | 'cluster' }>;
  let states: Map<string, AppState>;
  let registrar: ServiceRegistrar;

  beforeEach(async function () {
    for (const id of Object.keys(await suite.consul.agent.services()))
      await suite.consul.agent.deregisterService(id);
    desired = new Map();
    states = new Map();
    registrar = new ServiceRegistrar({
      consul: suite.consul,
      node: 'n1',
      address: '127.0.0.1',
      agentUrl: 'http://127.0.0.1:1',
      desired: (): DesiredApps => desired,
      state: (name) => states.get(name),
      logger: silentLogger(),
    });
  });

  const services = async () => suite.consul.agent.services();

  it('registers a running app with a port, rewrites nothing when unchanged, and deregisters it once stopped', async function () {
    desired.set('web', { spec: spec({ name: 'web', command: 'x', port: 8080 }), owner: 'local' });
    states.set('web', 'running');
    await registrar.reconcile('web', signal);
    const registered = (await services())['appmesh-n1-web'];
    expect(registered).to.deep.include({ Service: 'web', Port: 8080, Address: '127.0.0.1' });
    expect(registrar.registeredCount).to.equal(1);

    // Unchanged: no write, so a service deleted behind our back stays deleted until the resync.
    await suite.consul.agent.deregisterService('appmesh-n1-web');
    await registrar.reconcile('web', signal);
    expect((await services())['appmesh-n1-web']).to.equal(undefined);
    await registrar.reconcile(RESYNC_KEY, signal);
    expect((await services())['appmesh-n1-web']).to.not.equal(undefined);

    // A changed port replaces the registration in place (same ID).
    desired.set('web', { spec: spec({ name: 'web', command: 'x', port: 8081 }), owner: 'local' });
    await registrar.reconcile('web', signal);
    expect((await services())['appmesh-n1-web']?.Port).to.equal(8081);

    states.set('web', 'stopping');
    await registrar.reconcile('web', signal);
    expect((await services())['appmesh-n1-web']).to.equal(undefined);
    expect(registrar.registeredCount).to.equal(0);
  });

  it('resync removes its own leftovers and never another node’s or a hand-made service', async function () {
    const agent = suite.consul.agent;
    await agent.registerService({
      id: 'appmesh-n1-gone',
      name: 'gone',
      meta: { appmesh_node: 'n1', appmesh_task: 'gone' },
    });
    await agent.registerService({
      id: 'appmesh-n2-web',
      name: 'web',
      meta: { appmesh_node: 'n2', appmesh_task: 'web' },
    });
    await agent.registerService({ id: 'handmade', name: 'handmade', tags: ['appmesh'] });
    const result = await registrar.reconcile(RESYNC_KEY, signal);
    expect(result).to.deep.equal({ requeueAfterMs: 30_000 });
    expect(Object.keys(await services()).sort()).to.deep.equal(['appmesh-n2-web', 'handmade']);
  });

  it('deregisterAll removes every service of this node and only those', async function () {
    desired.set('a', { spec: spec({ name: 'a', command: 'x', port: 9001 }), owner: 'cluster' });
    states.set('a', 'running');
    await registrar.reconcile('a', signal);
    await suite.consul.agent.registerService({
      id: 'appmesh-n1-old',
      name: 'old',
      meta: { appmesh_node: 'n1' },
    });
    await suite.consul.agent.registerService({ id: 'other', name: 'other' });
    await registrar.deregisterAll();
    expect(Object.keys(await services())).to.deep.equal(['other']);
  });
});
