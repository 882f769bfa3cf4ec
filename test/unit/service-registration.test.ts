// The ServiceRegistrar's pure rules: which registration an app gets, when Consul's copy still matches,
// an app's peers from a health snapshot, the spec's `service` block and the task's dynamic port.
import { expect } from 'chai';
import { isLeft, isRight } from 'fp-ts/lib/Either.js';
import { decodeAppSpec } from '../../api/app.js';
import { decodeClusterTask } from '../../api/cluster.js';
import type { HealthServiceEntryWire } from '../../api/consul.js';
import { DynamicPortAllocator, noHostClaims } from '../../controllers/service-registrar/dynamic-ports.js';
import {
  agentHolds,
  goDuration,
  isOwnService,
  peersOf,
  registrationFor,
  type ServiceApp,
} from '../../controllers/service-registrar/registration.js';
import { parsePortRange } from '../../src/agent/config.js';

const context = { node: 'n1', address: '10.0.0.1', agentUrl: 'http://127.0.0.1:6060' };

function app(spec: Record<string, unknown>, state: ServiceApp['state'] = 'running'): ServiceApp {
  const decoded = decodeAppSpec({ name: 'web', command: 'sleep 1', ...spec }, 'app "web"');
  if (isLeft(decoded)) throw new Error(decoded.left.message);
  return { name: 'web', spec: decoded.right.spec, owner: 'cluster', state };
}

function entry(id: string, task: string, port: number, address = ''): HealthServiceEntryWire {
  return {
    Node: { Node: 'consul-1', Address: '10.0.0.9' },
    Service: { ID: id, Service: 'web', Port: port, Address: address, Meta: { appmesh_task: task } },
    Checks: [],
  };
}

describe('service registration', function () {
  it('registers an app with a port: ID, name, address, tags, meta and an HTTP check with defaults', function () {
    expect(registrationFor(app({ port: 8080 }), context)).to.deep.equal({
      id: 'appmesh-n1-web',
      name: 'web',
      address: '10.0.0.1',
      port: 8080,
      tags: ['appmesh'],
      meta: { appmesh_node: 'n1', appmesh_task: 'web', appmesh_owner: 'cluster' },
      checks: [
        {
          id: 'appmesh-n1-web-health',
          name: 'appmesh app web health',
          http: 'http://127.0.0.1:6060/appmesh/app/web/health',
          interval: '10s',
          timeout: '5s',
          deregisterCriticalServiceAfter: '60s',
        },
      ],
    });
  });

  it('takes the service name, tags, a TCP check and durations from the spec', function () {
    const wanted = registrationFor(
      app({
        port: 8080,
        service: {
          name: 'api',
          tags: ['v2', 'appmesh'],
          check: 'tcp',
          interval: 'PT2S',
          timeout: 1.5,
          deregister_critical_after: 'PT5M',
        },
      }),
      context,
    );
    expect(wanted?.name).to.equal('api');
    expect(wanted?.tags).to.deep.equal(['appmesh', 'v2']);
    expect(wanted?.checks?.[0]).to.deep.include({
      tcp: '10.0.0.1:8080',
      interval: '2s',
      timeout: '1.5s',
      deregisterCriticalServiceAfter: '300s',
    });
    expect(wanted?.checks?.[0]?.http).to.equal(undefined);
  });

  it('registers nothing for an app without a port, or one that is not starting, running or in backoff', function () {
    expect(registrationFor(app({}), context)).to.equal(undefined);
    for (const state of [
      'disabled',
      'stopping',
      'waiting',
      'standby',
      'failed',
      'removed',
      undefined,
    ] as const) {
      expect(registrationFor({ ...app({ port: 80 }), state }, context), String(state)).to.equal(undefined);
    }
    for (const state of ['starting', 'running', 'backoff'] as const) {
      expect(registrationFor(app({ port: 80 }, state), context)).to.not.equal(undefined);
    }
  });

  it('tells its own services (Meta appmesh_node) from every other', function () {
    expect(isOwnService({ ID: 'a', Service: 'a', Meta: { appmesh_node: 'n1' } }, 'n1')).to.equal(true);
    expect(isOwnService({ ID: 'a', Service: 'a', Meta: { appmesh_node: 'n2' } }, 'n1')).to.equal(false);
    expect(isOwnService({ ID: 'appmesh-n1-a', Service: 'a', Tags: ['appmesh'] }, 'n1')).to.equal(false);
    expect(
      isOwnService({ ID: 'appmesh-agent-n1', Service: 'appmesh-agent', Meta: { node: 'n1' } }, 'n1'),
    ).to.equal(false);
  });

  it('sees whether the Consul agent still holds the wanted service', function () {
    const wanted = registrationFor(app({ port: 8080 }), context);
    if (wanted === undefined) throw new Error('expected a registration');
    const held = {
      ID: wanted.id,
      Service: 'web',
      Port: 8080,
      Address: '10.0.0.1',
      Tags: ['appmesh'],
      Meta: { appmesh_node: 'n1', appmesh_task: 'web', appmesh_owner: 'cluster' },
    };
    expect(agentHolds(held, wanted)).to.equal(true);
    expect(agentHolds(undefined, wanted)).to.equal(false);
    expect(agentHolds({ ...held, Port: 8081 }, wanted)).to.equal(false);
    expect(agentHolds({ ...held, Meta: { ...held.Meta, appmesh_owner: 'local' } }, wanted)).to.equal(false);
  });

  it('lists the other instances of the same task as host:port, falling back to the node address', function () {
    const entries = [
      entry('appmesh-n1-web', 'web', 8080, '10.0.0.1'),
      entry('appmesh-n3-web', 'web', 8080, '10.0.0.3'),
      entry('appmesh-n2-web', 'web', 8081),
      entry('appmesh-n2-other', 'other', 9000, '10.0.0.2'),
    ];
    expect(peersOf(entries, 'web', 'appmesh-n1-web')).to.deep.equal(['10.0.0.3:8080', '10.0.0.9:8081']);
  });

  it('writes Go durations Consul accepts', function () {
    expect(goDuration(10)).to.equal('10s');
    expect(goDuration(0.25)).to.equal('0.25s');
  });

  it('rejects bad service settings with their paths', function () {
    const result = decodeAppSpec(
      { name: 'web', command: 'x', service: { name: 'no_dns', check: 'grpc', interval: 0, extra: 1 } },
      'app "web"',
    );
    expect(isLeft(result) && result.left.problems.join('\n')).to.match(/service\.extra: unknown field/);
    const fields = decodeAppSpec(
      { name: 'web', command: 'x', service: { name: 'no_dns', check: 'grpc' } },
      'app',
    );
    expect(isLeft(fields) && fields.left.problems.join('\n'))
      .to.contain('service.name')
      .and.contain('service.check');
    const zero = decodeAppSpec({ name: 'web', command: 'x', service: { interval: 0 } }, 'app');
    expect(isLeft(zero) && zero.left.problems.join('\n')).to.contain('service.interval');
  });
});

describe('dynamic ports', function () {
  it('decodes port 0 as no port, and dynamicPort only with port 0 or none', function () {
    const plain = decodeClusterTask({ replication: 1, port: 0, content: { command: 'x' } }, 'web', 't');
    expect(isRight(plain) && plain.right.task).to.not.have.property('port');
    const dynamic = decodeClusterTask(
      { replication: 1, port: 0, dynamicPort: true, content: { command: 'x' } },
      'web',
      't',
    );
    expect(isRight(dynamic) && dynamic.right.task.dynamicPort).to.equal(true);
    const clash = decodeClusterTask(
      { replication: 1, port: 80, dynamicPort: true, content: { command: 'x' } },
      'web',
      't',
    );
    expect(isLeft(clash) && clash.left.message).to.contain('dynamicPort: true needs port 0 or no port');
  });

  it('gives each task a free port from the range and keeps it until the task leaves', function () {
    const allocator = new DynamicPortAllocator(
      { from: 20000, to: 20002 },
      () => new Set([20001]),
      noHostClaims,
    );
    const a = allocator.portFor('a');
    const b = allocator.portFor('b');
    expect([a, b].sort()).to.deep.equal([20000, 20002]);
    expect(allocator.portFor('a')).to.equal(a);
    expect(allocator.portFor('c')).to.equal(undefined);
    allocator.keepOnly(new Set(['b']));
    expect(allocator.portFor('c')).to.equal(a);
  });

  it('parses the configured range and rejects a bad one', function () {
    expect(parsePortRange('20000-32000')).to.deep.equal({ from: 20000, to: 32000 });
    expect(() => parsePortRange('32000-20000')).to.throw(/dynamicPortRange/);
    expect(() => parsePortRange('0-10')).to.throw(/dynamicPortRange/);
  });
});
