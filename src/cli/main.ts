#!/usr/bin/env node
// The `appmesh` command: the agent itself, and kubectl-style verbs over the cluster (Consul KV) and over
// one agent's local apps. Exit codes: 0 success, 1 failure, 2 usage; errors are one line on stderr.
// Each command's module is imported when the command runs, so a long-running `appmesh agent` does not keep
// the client commands' code (manifests, diff, tables, output formats) in memory.
import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { AgentFlags } from '../agent/config.js';
import { parseGoDurationSeconds } from '../consul/session.js';
import type { AgentClientOptions } from './agent-client.js';
import type { ApplyOutputFormat, DryRun } from './apply-command.js';
import type { ClusterOutputFormat } from './cluster-output.js';
import type { ClusterResource } from './get-command.js';
import type { GlobalOptions } from './global-options.js';
import type { OutputFormat } from './local-commands.js';
import { ManifestError } from './manifest-error.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseDuration(value: string): number {
  const seconds = /^\d+(\.\d+)?$/.test(value) ? Number(value) : parseGoDurationSeconds(value);
  if (seconds === undefined || seconds <= 0) {
    throw new InvalidArgumentError('expected a duration such as 90s, 5m or 1m30s');
  }
  return Math.round(seconds * 1000);
}

function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((line) => `  ${line}`).join('\n')}\n`;
}

/** The options of the command and of every command above it (the global flags live on the program). */
function globalsOf(command: Command): GlobalOptions {
  return command.optsWithGlobals();
}

/** The agent API settings (`--agent`, `--agent-token-file`) of the command. */
async function agentClientOf(command: Command): Promise<AgentClientOptions> {
  const { agentClientOptions } = await import('./global-options.js');
  return agentClientOptions(globalsOf(command));
}

/** A command that reports failure by resolving false: exit 1, its errors already printed. */
function failUnless(ok: boolean): void {
  if (!ok) process.exitCode = 1;
}

const program = new Command('appmesh')
  .description('Consul-native cluster application controller')
  .version(pkg.version)
  .exitOverride()
  .showHelpAfterError('(add --help for usage and examples)')
  .configureHelp({ showGlobalOptions: true })
  .option('--consul-addr <address>', 'Consul HTTP address (default $CONSUL_HTTP_ADDR or 127.0.0.1:8500)')
  .option('--token <token>', 'Consul ACL token (default $CONSUL_HTTP_TOKEN)')
  .option('--token-file <file>', 'file holding the Consul ACL token (default $CONSUL_HTTP_TOKEN_FILE)')
  .option('--ca-file <file>', 'CA certificate to verify Consul with (default $CONSUL_CACERT)')
  .option('--client-cert <file>', 'client certificate for Consul mTLS (default $CONSUL_CLIENT_CERT)')
  .option('--client-key <file>', 'client key for Consul mTLS (default $CONSUL_CLIENT_KEY)')
  .option('--tls-server-name <name>', 'server name to verify (default $CONSUL_TLS_SERVER_NAME)')
  .option('--no-tls-verify', 'do not verify Consul’s certificate (like CONSUL_HTTP_SSL_VERIFY=false)')
  .option('--prefix <prefix>', 'KV prefix of the cluster (default $APPMESH_CONSUL_PREFIX or appmesh)')
  .option(
    '--agent <url>',
    'agent API URL for Applications (default $APPMESH_AGENT_URL or http://127.0.0.1:6060)',
  )
  .option(
    '--agent-token-file <file>',
    'file holding the agent API token (default $APPMESH_API_TOKEN_FILE, $APPMESH_API_TOKEN, then for a loopback --agent <data dir>/api-token)',
  )
  .option('--debug', 'print stack traces of errors');

program
  .command('agent')
  .description(
    'run the agent: supervise this host’s apps and serve the REST API (cluster mode with --consul-addr)',
  )
  .option('-c, --config <file>', 'YAML/JSON config file')
  .option('--listen <host:port>', 'HTTP API address (default 127.0.0.1:6060)')
  .option('--data-dir <dir>', 'where apps, the process ledger and output files are kept')
  .option('--log-level <level>', 'error | warn | info | debug')
  .option('--log-format <format>', 'json | text | auto')
  .option(
    '--api-token-file <file>',
    'file holding the API token every call needs (default: generated into <data-dir>/api-token)',
  )
  .option('--tls-cert <file>', 'serve the API over HTTPS with this PEM certificate (chain)')
  .option('--tls-key <file>', 'the PEM private key of --tls-cert')
  .option('--insecure-listen', 'allow plain HTTP beyond loopback (the token crosses the network in clear)')
  .option('--node-name <name>', 'node name in the cluster (default: the host name)')
  .option('--label <key=value>', 'node label for task conditions (repeatable)', collect, [])
  .option('--main', 'may become the leader and schedule (default)')
  .option('--no-main', 'never lead')
  .option('--worker', 'runs tasks placed on it (default)')
  .option('--no-worker', 'never runs cluster tasks')
  .option('--session-ttl <duration>', 'Consul session TTL, e.g. 30s (backstop for failure detection)')
  .addHelpText(
    'after',
    examples(
      'appmesh agent                                   # stand-alone on 127.0.0.1:6060',
      'appmesh agent --consul-addr 127.0.0.1:8500 --node-name n1 --label zone=east',
      'appmesh agent --config manifests/agent.yaml',
    ),
  )
  .action(async (flags: AgentFlags, command: Command) => {
    const { agentCommand } = await import('./agent-command.js');
    // The global Consul flags apply to the agent too (over its config file and APPMESH_* variables).
    const g = globalsOf(command);
    const tls = {
      ...(g.caFile !== undefined ? { caFile: g.caFile } : {}),
      ...(g.clientCert !== undefined ? { certFile: g.clientCert } : {}),
      ...(g.clientKey !== undefined ? { keyFile: g.clientKey } : {}),
      ...(g.tlsServerName !== undefined ? { serverName: g.tlsServerName } : {}),
      ...(g.tlsVerify === false ? { verify: false } : {}),
    };
    return agentCommand({
      ...flags,
      ...(g.consulAddr !== undefined ? { consulAddr: g.consulAddr } : {}),
      ...(g.token !== undefined ? { consulToken: g.token } : {}),
      ...(g.tokenFile !== undefined ? { consulTokenFile: g.tokenFile } : {}),
      ...(g.prefix !== undefined ? { consulPrefix: g.prefix } : {}),
      ...(Object.keys(tls).length > 0 ? { consulTls: tls } : {}),
    });
  });

program
  .command('apply')
  .description('create or update what the manifests describe (ClusterTask → Consul KV, Application → agent)')
  .requiredOption('-f, --filename <path...>', 'manifest file(s) or directories; - reads stdin')
  .addOption(
    new Option(
      '--dry-run [strategy]',
      'client: only validate; server: also compare with Consul; write nothing',
    )
      .choices(['none', 'client', 'server'])
      .preset('client')
      .default('none'),
  )
  .option('--wait', 'wait until every task’s desired replicas run and pass their checks', false)
  .option('--timeout <duration>', 'how long --wait waits', parseDuration, 300_000)
  .addOption(
    new Option('-o, --output <format>', 'print the resources instead').choices(['name', 'json', 'yaml']),
  )
  .addHelpText(
    'after',
    examples(
      'appmesh apply -f manifests/examples/web.yaml',
      'appmesh apply -f manifests/examples/ --wait --timeout 2m',
      'cat task.json | appmesh apply -f -                 # raw App Mesh task JSON works too',
      'appmesh apply -f web.yaml --dry-run=server',
    ),
  )
  .action(
    async (
      options: {
        filename: string[];
        dryRun: DryRun;
        wait: boolean;
        timeout: number;
        output?: ApplyOutputFormat;
      },
      command: Command,
    ) => {
      const { applyCommand } = await import('./apply-command.js');
      failUnless(
        await applyCommand(
          {
            filename: options.filename,
            dryRun: options.dryRun,
            wait: options.wait,
            timeoutMs: options.timeout,
            output: options.output ?? 'default',
          },
          globalsOf(command),
        ),
      );
    },
  );

program
  .command('diff')
  .description('show how the manifests differ from the live state; exit 1 when they differ')
  .requiredOption('-f, --filename <path...>', 'manifest file(s) or directories; - reads stdin')
  .addHelpText(
    'after',
    examples('appmesh diff -f manifests/examples/', 'appmesh diff -f web.yaml && echo up to date'),
  )
  .action(async (options: { filename: string[] }, command: Command) => {
    const { diffCommand } = await import('./diff-command.js');
    failUnless(!(await diffCommand(options.filename, globalsOf(command))));
  });

const get = program
  .command('get')
  .description('list cluster resources (tasks, nodes, topology) or one agent’s apps');

const clusterOutput = () =>
  new Option('-o, --output <format>', 'output format')
    .choices(['table', 'wide', 'json', 'yaml'])
    .default('table');

const clusterResources: readonly [ClusterResource, string, string][] = [
  ['tasks', 'task', 'cluster tasks with replica counts (running/passing from the node reports)'],
  ['nodes', 'node', 'nodes with labels and capacity (AGE is "-": Consul records no creation time)'],
  ['topology', 'placements', 'what the scheduler placed on each node'],
];
for (const [resource, alias, description] of clusterResources) {
  get
    .command(resource)
    .alias(alias)
    .description(description)
    .argument('[name]', 'only this one')
    .addOption(clusterOutput())
    .option('-w, --watch', 'print again on every change (Ctrl-C to stop)', false)
    .addHelpText(
      'after',
      examples(
        `appmesh get ${resource}`,
        `appmesh get ${resource} -o wide --watch`,
        `appmesh get ${resource} -o yaml`,
      ),
    )
    .action(
      async (
        name: string | undefined,
        options: { output: ClusterOutputFormat; watch: boolean },
        command: Command,
      ) => {
        const { getClusterCommand } = await import('./get-command.js');
        await getClusterCommand(resource, name, options, globalsOf(command));
      },
    );
}

get
  .command('apps')
  .alias('app')
  .description('list the apps on one agent (--agent)')
  .addOption(clusterOutput())
  .addHelpText('after', examples('appmesh get apps --agent http://127.0.0.1:6061 -o json'))
  .action(async (options: { output: OutputFormat }, command: Command) => {
    const { getAppsCommand } = await import('./local-commands.js');
    await getAppsCommand({ ...(await agentClientOf(command)), output: options.output });
  });

program
  .command('describe')
  .description('show one resource in detail')
  .command('task')
  .description('a task’s spec, placements, each replica’s node/pid/health/restarts, and status messages')
  .argument('<name>')
  .addHelpText('after', examples('appmesh describe task web'))
  .action(async (name: string, _options: unknown, command: Command) => {
    const { describeTaskCommand } = await import('./describe-command.js');
    await describeTaskCommand(name, globalsOf(command));
  });

const del = program
  .command('delete')
  .description('delete cluster tasks (by name or from manifests) or an agent’s local app')
  .option('-f, --filename <path...>', 'delete what these manifests describe')
  .option('--ignore-not-found', 'a resource that does not exist is not an error', false)
  .addHelpText(
    'after',
    examples(
      'appmesh delete task web worker',
      'appmesh delete -f manifests/examples/web.yaml',
      'appmesh delete app hello',
    ),
  )
  .action(async (options: { filename?: string[]; ignoreNotFound: boolean }, command: Command) => {
    if (options.filename === undefined)
      command.error('error: name what to delete: -f FILE, `task NAME...` or `app NAME`');
    const { deleteFromFilesCommand } = await import('./delete-command.js');
    failUnless(await deleteFromFilesCommand(options.filename, options, globalsOf(command)));
  });

del
  .command('task')
  .alias('tasks')
  .description('delete cluster tasks from Consul KV')
  .argument('<name...>')
  .action(async (names: string[], _options: unknown, command: Command) => {
    const globals = globalsOf(command) as GlobalOptions & { ignoreNotFound?: boolean };
    const { deleteTasksCommand } = await import('./delete-command.js');
    failUnless(await deleteTasksCommand(names, { ignoreNotFound: globals.ignoreNotFound === true }, globals));
  });

del
  .command('app')
  .description('delete a local app from the agent (--agent)')
  .argument('<name>')
  .action(async (name: string, _options: unknown, command: Command) => {
    const { deleteAppCommand } = await import('./local-commands.js');
    await deleteAppCommand(name, await agentClientOf(command));
  });

program
  .command('restart')
  .description('restart resources')
  .command('app')
  .description('restart a local app on the agent now')
  .argument('<name>')
  .action(async (name: string, _options: unknown, command: Command) => {
    const { restartAppCommand } = await import('./local-commands.js');
    await restartAppCommand(name, await agentClientOf(command));
  });

program
  .command('logs')
  .description('print an app’s captured output (from the agent at --agent)')
  .argument('<name>')
  .option('-f, --follow', 'keep printing new output', false)
  .addHelpText('after', examples('appmesh logs hello -f --agent http://127.0.0.1:6061'))
  .action(async (name: string, options: { follow: boolean }, command: Command) => {
    const { logsCommand } = await import('./local-commands.js');
    await logsCommand(name, { ...(await agentClientOf(command)), follow: options.follow });
  });

program
  .command('watch')
  .description('stream the KV entries under a prefix as JSON lines, one per change (Ctrl-C to stop)')
  .argument('[prefix]', 'KV prefix to watch', 'appmesh/')
  .addHelpText('after', examples('appmesh watch appmesh/cluster/status/'))
  .action(async (prefix: string, _options: unknown, command: Command) => {
    const { watchCommand } = await import('./watch.js');
    await watchCommand(prefix, globalsOf(command));
  });

program.addCommand((await import('./acl-command.js')).aclCommand(globalsOf));

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Commander already printed the message (or the help/version asked for).
    const asked = ['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(err.code);
    process.exitCode = asked && err.exitCode === 0 ? 0 : 2;
  } else {
    if (err instanceof ManifestError) {
      for (const problem of err.problems) console.error(problem);
      console.error(`error: ${err.summary}`);
    } else {
      // Known failures are one readable line; the stack is noise to an operator unless asked for.
      const debug = program.opts<GlobalOptions>().debug === true;
      console.error(debug && err instanceof Error ? err.stack : `error: ${(err as Error).message}`);
    }
    process.exitCode = 1;
  }
}
