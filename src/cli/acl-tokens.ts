// What `appmesh acl` does: print a node's (or the operators') policy as HCL, and create or update a
// node's policy and create a token for it through Consul's ACL API with the operator's token (which
// needs `acl = "write"`), writing the token's secret to a new file only its owner can read, so the secret
// never reaches a terminal or a shell history.
import { writeFile } from 'node:fs/promises';
import * as t from 'io-ts';
import type { Consul } from '../consul/consul.js';
import {
  nodePolicy,
  nodePolicyDescription,
  nodePolicyName,
  operatorsPolicy,
  type NodePolicyOptions,
} from './acl-policy.js';
import { kvPrefix, type GlobalOptions } from './global-options.js';

export interface NodeFlags {
  readonly node: string;
  readonly main: boolean;
  readonly consulNode?: string;
}

const PolicyWire = t.type({ ID: t.string, Name: t.string }, 'an ACL policy');
const PolicyFoundWire = t.intersection([PolicyWire, t.partial({ Description: t.string })], 'an ACL policy');
const TokenWire = t.type({ AccessorID: t.string, SecretID: t.string }, 'an ACL token');

export function policyOptions(flags: NodeFlags, globals: GlobalOptions): NodePolicyOptions {
  return {
    node: flags.node,
    main: flags.main,
    consulNode: flags.consulNode ?? flags.node,
    prefix: kvPrefix(globals),
  };
}

/** `appmesh acl policy`: the HCL on stdout, for `consul acl policy create -rules @-` or review. */
export function printPolicy(
  flags: Partial<NodeFlags> & { readonly operators: boolean },
  globals: GlobalOptions,
): void {
  if (flags.operators) {
    if (flags.node !== undefined) throw new RangeError('--operators and --node exclude each other; give one');
    process.stdout.write(operatorsPolicy(kvPrefix(globals)));
    return;
  }
  if (flags.node === undefined) throw new RangeError('give --node <name> (a node policy) or --operators');
  process.stdout.write(
    nodePolicy(policyOptions({ ...flags, node: flags.node, main: flags.main ?? false }, globals)),
  );
}

export interface BootstrapResult {
  readonly policyName: string;
  readonly policyCreated: boolean;
  readonly accessorId: string;
}

/**
 * Creates (or, if it is ours, updates) the node's policy and a new token linked to it; the secret goes to
 * `out`, created with mode 0600 and never overwritten (an existing file may hold a token in use).
 */
export async function bootstrapNode(
  consul: Consul,
  options: NodePolicyOptions,
  out: string,
): Promise<BootstrapResult> {
  const rules = nodePolicy(options);
  const name = nodePolicyName(options.prefix, options.node);
  const description = nodePolicyDescription(options.prefix, options.node);
  const found = await consul.client.request({
    method: 'GET',
    endpoint: '/v1/acl/policy/name/:name',
    path: `/v1/acl/policy/name/${encodeURIComponent(name)}`,
    passStatuses: [404],
  });
  let policyCreated = false;
  if (found.status === 404) {
    await consul.client.request({
      method: 'PUT',
      endpoint: '/v1/acl/policy',
      path: '/v1/acl/policy',
      body: { Name: name, Description: description, Rules: rules },
    });
    policyCreated = true;
  } else {
    const existing = consul.client.decode(PolicyFoundWire, found, 'GET /v1/acl/policy/name/:name');
    if (existing.Description !== description) {
      throw new Error(
        `consul already has an ACL policy ${JSON.stringify(name)} that appmesh did not make for node ${JSON.stringify(options.node)} ` +
          `(its description is ${JSON.stringify(existing.Description ?? '')}); rename or delete it, or use another node name`,
      );
    }
    const updated = await consul.client.request({
      method: 'PUT',
      endpoint: '/v1/acl/policy/:id',
      path: `/v1/acl/policy/${encodeURIComponent(existing.ID)}`,
      body: { Name: name, Description: description, Rules: rules },
    });
    consul.client.decode(PolicyWire, updated, 'PUT /v1/acl/policy/:id');
  }
  const created = await consul.client.request({
    method: 'PUT',
    endpoint: '/v1/acl/token',
    path: '/v1/acl/token',
    body: {
      Description: `appmesh agent of node "${options.node}"${options.main ? ' (main-eligible)' : ' (worker)'}`,
      Policies: [{ Name: name }],
    },
  });
  const token = consul.client.decode(TokenWire, created, 'PUT /v1/acl/token');
  try {
    // `wx`: fails if the file exists; the mode applies at creation, before any byte is written.
    await writeFile(out, `${token.SecretID}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    // The token exists but nobody has its secret: delete it rather than leave an orphan behind.
    await consul.client
      .request({
        method: 'DELETE',
        endpoint: '/v1/acl/token/:accessor',
        path: `/v1/acl/token/${encodeURIComponent(token.AccessorID)}`,
      })
      .catch(() => undefined);
    const reason =
      (error as NodeJS.ErrnoException).code === 'EEXIST'
        ? 'it exists (remove it first; it may hold a token in use)'
        : (error as Error).message;
    throw new Error(
      `could not write the token of node ${options.node} to ${out}: ${reason}; no token was left in consul`,
    );
  }
  return { policyName: name, policyCreated, accessorId: token.AccessorID };
}
