// CLI verbs against one agent's REST API for its host-local apps: get apps, delete app, restart app,
// logs. (Applications are applied by apply-command.ts.)
import { stringify as toYaml } from 'yaml';
import { AgentClient, appPath, type AgentClientOptions } from './agent-client.js';
import { renderTable, truncate } from './table.js';

export type OutputFormat = 'table' | 'wide' | 'json' | 'yaml';

interface AppView {
  readonly name: string;
  readonly owner?: string;
  readonly state?: string;
  readonly pid?: number;
  readonly starts?: number;
  readonly health?: string;
  readonly command?: string;
}

export async function getAppsCommand(options: AgentClientOptions & { output: OutputFormat }): Promise<void> {
  const apps = await new AgentClient(options).json<AppView[]>('GET', '/appmesh/applications');
  console.log(formatApps(apps, options.output));
}

export function formatApps(apps: readonly AppView[], format: OutputFormat): string {
  if (format === 'json') return JSON.stringify(apps, null, 2);
  if (format === 'yaml') return toYaml(apps).trimEnd();
  return renderTable(
    ['NAME', 'OWNER', 'STATE', 'PID', 'STARTS', 'HEALTH', 'COMMAND'],
    apps.map((a) => [
      a.name,
      a.owner ?? '',
      a.state ?? '',
      a.pid === undefined ? '-' : String(a.pid),
      String(a.starts ?? 0),
      a.health ?? '',
      format === 'wide' ? (a.command ?? '') : truncate(a.command ?? '', 40),
    ]),
  );
}

export async function deleteAppCommand(name: string, options: AgentClientOptions): Promise<void> {
  await new AgentClient(options).call('DELETE', appPath(name));
  console.log(`application/${name} deleted`);
}

export async function restartAppCommand(name: string, options: AgentClientOptions): Promise<void> {
  await new AgentClient(options).call('POST', appPath(name, 'restart'));
  console.log(`application/${name} restarted`);
}

/** Prints the app's buffered output; with `follow`, keeps polling from the last position until Ctrl-C. */
export async function logsCommand(
  name: string,
  options: AgentClientOptions & { follow: boolean; pollMs?: number },
): Promise<void> {
  const client = new AgentClient(options);
  let offset: number | undefined;
  let stopped = false;
  const stop = () => {
    stopped = true;
  };
  process.once('SIGINT', stop);
  try {
    do {
      const query = offset === undefined ? '' : `?offset=${offset}`;
      const response = await client.call('GET', `${appPath(name, 'output')}${query}`);
      process.stdout.write(response.text);
      offset = Number(response.headers['x-output-position'] ?? offset ?? 0);
      if (options.follow && !stopped) await new Promise((r) => setTimeout(r, options.pollMs ?? 500));
    } while (options.follow && !stopped);
  } finally {
    process.off('SIGINT', stop);
  }
}
