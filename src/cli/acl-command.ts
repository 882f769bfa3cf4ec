// `appmesh acl`: the Consul ACL side of per-node trust (see acl-policy.ts for what each token may do).
// Only the command tree lives here; what the commands do is imported when one runs, so `appmesh agent`
// loads none of it.
import { Command, Option } from 'commander';
import type { GlobalOptions } from './global-options.js';
import type { NodeFlags } from './acl-tokens.js';

const nodeOption = () => new Option('--node <name>', 'the appmesh node name (its --node-name)');
const mainOption = () =>
  new Option('--main', 'main-eligible: may lead and write leader, topology and status').default(false);
const consulNodeOption = () =>
  new Option('--consul-node <name>', "the Consul agent's node name on that host (default: --node)");

/** The `acl` command tree; main.ts adds it to the program. Actions receive the global flags. */
export function aclCommand(globalsOf: (command: Command) => GlobalOptions): Command {
  const acl = new Command('acl').description('Consul ACL policies and tokens for per-node trust');
  acl
    .command('policy')
    .description("print a node's Consul ACL policy (or the operators') as HCL")
    .addOption(nodeOption())
    .addOption(mainOption())
    .addOption(consulNodeOption())
    .option('--operators', 'the policy of the CLI users and CI: read all, write only tasks', false)
    .addHelpText(
      'after',
      '\nExamples:\n  appmesh acl policy --node n1 --main --consul-node host1\n  appmesh acl policy --operators | consul acl policy create -name appmesh-operators -rules -\n',
    )
    .action(async (flags: Partial<NodeFlags> & { operators: boolean }, command: Command) => {
      const { printPolicy } = await import('./acl-tokens.js');
      printPolicy(flags, globalsOf(command));
    });
  acl
    .command('bootstrap-node')
    .description("create a node's policy and token in Consul, the token's secret into a new 0600 file")
    .addOption(nodeOption().makeOptionMandatory())
    .addOption(mainOption())
    .addOption(consulNodeOption())
    .requiredOption('--out <file>', "where to write the token's secret (must not exist)")
    .addHelpText(
      'after',
      '\nNeeds a Consul token with acl = "write" (--token-file or CONSUL_HTTP_TOKEN_FILE).\nExamples:\n  appmesh acl bootstrap-node --node n1 --main --consul-node host1 --out n1.token --token-file mgmt.token\n',
    )
    .action(async (flags: NodeFlags & { out: string }, command: Command) => {
      const { bootstrapNode, policyOptions } = await import('./acl-tokens.js');
      const { withConsul } = await import('./global-options.js');
      const globals = globalsOf(command);
      const options = policyOptions(flags, globals);
      const result = await withConsul(globals, (consul) => bootstrapNode(consul, options, flags.out));
      console.log(
        `${result.policyCreated ? 'created' : 'updated'} policy ${result.policyName} and created token ${result.accessorId}; ` +
          `its secret is in ${flags.out} (mode 0600): give that file to the agent of ${options.node} as consul.tokenFile or CONSUL_HTTP_TOKEN_FILE`,
      );
    });
  return acl;
}
