// Agent and health endpoints against a real Consul agent: identity, service registration, checks.
import { expect } from 'chai';
import { Consul } from '../../src/consul/consul.js';
import type { ConsulFixture } from '../fixtures/consul.js';
import { useConsul } from '../fixtures/consul-suite.js';

describe('consul agent and health (real Consul)', function () {
  const suite = useConsul();
  let consul: Consul;
  let fixture: ConsulFixture;
  beforeEach(function () {
    ({ consul, fixture } = suite);
  });

  it('reports the node name of the agent', async function () {
    const self = await consul.agent.self();
    expect(self.nodeName).to.equal(fixture.nodeName);
    expect(await consul.health.leader()).to.match(/^127\.0\.0\.1:\d+$/);
  });

  it('registers a service with a TTL check, reports it healthy once passed, then deregisters it', async function () {
    await consul.agent.registerService({
      id: 'web-1',
      name: 'web',
      port: 8080,
      address: '127.0.0.1',
      tags: ['appmesh'],
      meta: { owner: 'appmesh' },
      checks: [{ id: 'web-1-ttl', name: 'web alive', ttl: '30s' }],
    });
    expect(Object.keys(await consul.agent.services())).to.include('web-1');
    expect((await consul.health.service('web', { passing: true })).value).to.have.length(0);

    await consul.agent.updateTtlCheck('web-1-ttl', 'pass', 'ok');
    const healthy = await consul.health.service('web', { passing: true });
    expect(healthy.value.map((e) => e.Service.ID)).to.deep.equal(['web-1']);
    expect(healthy.value[0]?.Service.Port).to.equal(8080);
    expect(await consul.health.catalogServices()).to.have.property('web');

    await consul.agent.deregisterService('web-1');
    expect(Object.keys(await consul.agent.services())).to.not.include('web-1');
    await consul.agent.deregisterService('web-1'); // already gone: not an error
  });

  it('replaces existing checks when a service is registered again', async function () {
    await consul.agent.registerService({
      id: 'api-1',
      name: 'api',
      checks: [
        { id: 'api-1-a', name: 'a', ttl: '30s' },
        { id: 'api-1-b', name: 'b', ttl: '30s' },
      ],
    });
    await consul.agent.registerService({
      id: 'api-1',
      name: 'api',
      checks: [{ id: 'api-1-a', name: 'a', ttl: '30s' }],
    });
    const checks = Object.keys(await consul.agent.checks()).filter((id) => id.startsWith('api-1'));
    expect(checks).to.deep.equal(['api-1-a']);
    await consul.agent.deregisterService('api-1');
  });

  it("rejects a bad registration with Consul's own message", async function () {
    const err = (await consul.agent
      .registerService({
        id: 'bad-1',
        name: 'bad',
        checks: [{ id: 'bad-1-c', name: 'c', http: 'http://127.0.0.1:1/' }],
      })
      .catch((e: unknown) => e)) as Error;
    expect(err.message).to.contain('HTTP 400').and.contain('/v1/agent/service/register');
  });
});
