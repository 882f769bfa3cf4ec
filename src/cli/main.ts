#!/usr/bin/env node
// The `appmesh` command: the agent itself and the verbs that talk to it (and, in cluster mode, to Consul).
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { agentCommand } from './agent-command.js';
import {
  applyCommand,
  deleteAppCommand,
  getAppsCommand,
  logsCommand,
  restartAppCommand,
  type OutputFormat,
} from './local-commands.js';
import { watchCommand } from './watch.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

const program = new Command('appmesh')
  .description('Consul-native cluster application controller')
  .version(pkg.version)
  .showHelpAfterError();

const agentOptions = (command: Command) =>
  command
    .option('--agent <url>', 'agent API URL (default $APPMESH_AGENT_URL or http://127.0.0.1:6060)')
    .option(
      '--token-file <file>',
      'file holding the API token (default $APPMESH_API_TOKEN_FILE / $APPMESH_API_TOKEN)',
    );

program
  .command('agent')
  .description('run the agent: supervise this host’s apps and serve the REST API')
  .option('-c, --config <file>', 'YAML/JSON config file')
  .option('--listen <host:port>', 'HTTP API address (default 127.0.0.1:6060)')
  .option('--data-dir <dir>', 'where apps, the process ledger and output files are kept')
  .option('--log-level <level>', 'error | warn | info | debug')
  .option('--log-format <format>', 'json | text | auto')
  .option('--api-token-file <file>', 'file holding the API token required for changes')
  .option('--consul-addr <address>', 'join the cluster through this Consul agent (cluster mode)')
  .option('--node-name <name>', 'node name in the cluster (default: the host name)')
  .option('--label <key=value>', 'node label for task conditions (repeatable)', collect, [])
  .option('--main', 'may become the leader and schedule (default)')
  .option('--no-main', 'never lead')
  .option('--worker', 'runs tasks placed on it (default)')
  .option('--no-worker', 'never runs cluster tasks')
  .option('--session-ttl <duration>', 'Consul session TTL, e.g. 30s (backstop for failure detection)')
  .action((flags: Parameters<typeof agentCommand>[0]) => agentCommand(flags));

agentOptions(
  program
    .command('apply')
    .description('create or update what the manifests describe (kind Application goes to the agent)')
    .requiredOption('-f, --filename <file...>', 'manifest file(s), - for stdin'),
).action((options: { filename: string[]; agent?: string; tokenFile?: string }) =>
  applyCommand(options.filename, options),
);

const get = program.command('get').description('list resources');
agentOptions(
  get
    .command('apps')
    .alias('app')
    .description('list the apps on the agent')
    .addOption(
      new Option('-o, --output <format>', 'output format')
        .choices(['table', 'json', 'yaml'])
        .default('table'),
    ),
).action((options: { output: OutputFormat; agent?: string; tokenFile?: string }) => getAppsCommand(options));

const del = program.command('delete').description('delete resources');
agentOptions(del.command('app').description('delete an app from the agent').argument('<name>')).action(
  (name: string, options: { agent?: string; tokenFile?: string }) => deleteAppCommand(name, options),
);

const restart = program.command('restart').description('restart resources');
agentOptions(restart.command('app').description('restart an app now').argument('<name>')).action(
  (name: string, options: { agent?: string; tokenFile?: string }) => restartAppCommand(name, options),
);

agentOptions(
  program
    .command('logs')
    .description('print an app’s captured output')
    .argument('<name>')
    .option('-f, --follow', 'keep printing new output', false),
).action((name: string, options: { follow: boolean; agent?: string; tokenFile?: string }) =>
  logsCommand(name, options),
);

program
  .command('watch')
  .description('stream the KV entries under a prefix as JSON lines, one per change (Ctrl-C to stop)')
  .argument('[prefix]', 'KV prefix to watch', 'appmesh/')
  .option('--consul-addr <address>', 'Consul HTTP address (default $CONSUL_HTTP_ADDR or 127.0.0.1:8500)')
  .action((prefix: string, options: { consulAddr?: string }) => watchCommand(prefix, options));

try {
  await program.parseAsync(process.argv);
} catch (err) {
  // Known failures are one readable message; the stack is noise to an operator.
  console.error(`error: ${(err as Error).message}`);
  process.exitCode = 1;
}
