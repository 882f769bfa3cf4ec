// The per-node Consul ACL policies `appmesh acl` renders: a worker writes only its own report, a
// main-eligible node also the leader key, topology and status; the operators write only tasks and get no
// `acl` rule. manifests/acl/*.hcl must be exactly these renderings with the placeholders.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import {
  CONSUL_NODE_PLACEHOLDER,
  NODE_PLACEHOLDER,
  nodePolicy,
  nodePolicyName,
  operatorsPolicy,
} from '../../src/cli/acl-policy.js';

const MANIFESTS = resolve(fileURLToPath(import.meta.url), '../../../../manifests/acl');

/** The rules of an HCL policy as `<kind> "<name>" = <policy>` lines, comments dropped. */
function rulesOf(hcl: string): string[] {
  return [...hcl.matchAll(/^(\w+) "([^"]*)" \{\n {2}policy = "(\w+)"\n\}$/gm)].map(
    ([, kind, name, policy]) => `${kind} "${name}" = ${policy}`,
  );
}

const worker = { node: 'n1', main: false, consulNode: 'host1', prefix: 'appmesh' };

describe('acl policies', function () {
  it("lets a worker write only its own report, its own Consul node's sessions and services", function () {
    expect(rulesOf(nodePolicy(worker))).to.deep.equal([
      'key_prefix "appmesh/" = read',
      'key "appmesh/cluster/nodes/n1" = write',
      'session "host1" = write',
      'node_prefix "" = read',
      'service "appmesh-agent" = write',
      'service_prefix "" = write',
    ]);
  });

  it('adds the leader key, topology and status for a main-eligible node, and nothing else', function () {
    expect(rulesOf(nodePolicy({ ...worker, main: true }))).to.deep.equal([
      'key_prefix "appmesh/" = read',
      'key "appmesh/cluster/nodes/n1" = write',
      'key "appmesh/cluster/leader" = write',
      'key_prefix "appmesh/cluster/topology/" = write',
      'key_prefix "appmesh/cluster/status/" = write',
      'session "host1" = write',
      'node_prefix "" = read',
      'service "appmesh-agent" = write',
      'service_prefix "" = write',
    ]);
  });

  it('gives the operators read on the prefix, write on tasks only, and no acl rule', function () {
    const hcl = operatorsPolicy('appmesh');
    expect(rulesOf(hcl)).to.deep.equal([
      'key_prefix "appmesh/" = read',
      'key_prefix "appmesh/cluster/tasks/" = write',
      'service_prefix "" = read',
      'node_prefix "" = read',
    ]);
    expect(hcl).to.not.match(/^\s*acl\s*=/m);
  });

  it('uses the KV prefix it is given', function () {
    expect(rulesOf(nodePolicy({ ...worker, prefix: 'team/a' }))[1]).to.equal(
      'key "team/a/cluster/nodes/n1" = write',
    );
  });

  it('refuses names that could change the meaning of the HCL, naming the flag', function () {
    expect(() => nodePolicy({ ...worker, node: 'n1" {}\nkey_prefix "' })).to.throw(
      /^--node .* is not a node name/,
    );
    expect(() => nodePolicy({ ...worker, consulNode: 'h${x}' })).to.throw(/^--consul-node /);
    expect(() => nodePolicy({ ...worker, consulNode: '' })).to.throw(/^--consul-node /);
    expect(() => nodePolicy({ ...worker, prefix: 'a//b' })).to.throw(/^--prefix /);
    expect(() => nodePolicy({ ...worker, node: '..' })).to.throw(/^--node /);
  });

  it('names a node policy in the characters Consul allows', function () {
    expect(nodePolicyName('appmesh', 'n1')).to.equal('appmesh-node-n1');
    expect(nodePolicyName('team/a', 'web.1')).to.equal('team_a-node-web_1');
    expect(nodePolicyName('appmesh', 'x'.repeat(128))).to.have.length(128);
  });

  it('ships manifests/acl/*.hcl as exactly these renderings, with placeholders for the names', async function () {
    const placeholders = { node: NODE_PLACEHOLDER, consulNode: CONSUL_NODE_PLACEHOLDER, prefix: 'appmesh' };
    expect(await readFile(`${MANIFESTS}/worker.hcl`, 'utf8')).to.equal(
      nodePolicy({ ...placeholders, main: false }),
    );
    expect(await readFile(`${MANIFESTS}/main.hcl`, 'utf8')).to.equal(
      nodePolicy({ ...placeholders, main: true }),
    );
    expect(await readFile(`${MANIFESTS}/operators.hcl`, 'utf8')).to.equal(operatorsPolicy('appmesh'));
  });
});
