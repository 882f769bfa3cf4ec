#!/usr/bin/env node
// The `appmesh` command. Sub-commands are added as the agent and cluster features land.
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { watchCommand } from './watch.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

const program = new Command('appmesh')
  .description('Consul-native cluster application controller')
  .version(pkg.version)
  .addOption(
    new Option(
      '--consul-addr <address>',
      'Consul HTTP address (default $CONSUL_HTTP_ADDR or 127.0.0.1:8500)',
    ),
  )
  .showHelpAfterError();

program
  .command('watch')
  .description('stream the KV entries under a prefix as JSON lines, one per change (Ctrl-C to stop)')
  .argument('[prefix]', 'KV prefix to watch', 'appmesh/')
  .action((prefix: string) => watchCommand(prefix, program.opts<{ consulAddr?: string }>()));

await program.parseAsync(process.argv);
