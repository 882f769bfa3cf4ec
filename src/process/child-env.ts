// What an app's process gets as its environment: a minimal set of the agent's variables (PATH, HOME,
// locale, ...; never its tokens), then what the agent's `env.allow` passes through, then appmesh's
// per-launch variables, the app's own `env`, and last the markers that let a later agent run find the
// process in /proc even without its ledger. Nomad's client `env.denylist` is the model for the lists.
import type { ExecUser } from './exec-user.js';

/** Agent variables every app gets (when the agent has them). `LC_*` covers every locale category. */
export const DEFAULT_PASS_THROUGH: readonly string[] = [
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'LANG',
  'LANGUAGE',
  'LC_*',
  'TZ',
  'TMPDIR',
];

/**
 * Agent variables no app gets unless the operator replaces this list (`env.deny`): secret-looking names
 * and the settings of appmesh, Consul, Nomad, Vault and cloud SDKs. Matched case-insensitively.
 */
export const DEFAULT_DENY: readonly string[] = [
  '*TOKEN*',
  '*SECRET*',
  '*PASSWORD*',
  '*PASSWD*',
  '*CREDENTIAL*',
  '*PRIVATE*',
  '*_KEY',
  '*_KEY_*',
  'APPMESH_*',
  'CONSUL_*',
  'NOMAD_*',
  'VAULT_*',
  'AWS_*',
  'GOOGLE_APPLICATION_CREDENTIALS',
  'AZURE_*',
];

/** Never passed from the agent, whatever `env.deny` says: the agent's own credentials. */
export const ALWAYS_DENY: readonly string[] = [
  'CONSUL_HTTP_TOKEN*',
  'APPMESH_API_TOKEN*',
  'CONSUL_CLIENT_KEY*',
];

/** Set by appmesh on every child, after the app's env, so an app cannot hide from or pose as another. */
export const MARKER_AGENT_ID = 'APPMESH_AGENT_ID';
export const MARKER_APP = 'APPMESH_APP';

/** Used when the agent itself has no PATH (e.g. started with `env -i`). */
const FALLBACK_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface EnvPolicy {
  /** Extra agent variables to pass (globs: `*`, `?`). */
  readonly allow: readonly string[];
  /** Agent variables never to pass (globs); wins over `allow` and the defaults. */
  readonly deny: readonly string[];
}

export const defaultEnvPolicy: EnvPolicy = { allow: [], deny: DEFAULT_DENY };

function globMatcher(patterns: readonly string[]): (name: string) => boolean {
  if (patterns.length === 0) return () => false;
  const source = patterns
    .map((p) =>
      p
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.'),
    )
    .join('|');
  const pattern = new RegExp(`^(?:${source})$`, 'i');
  return (name) => pattern.test(name);
}

/**
 * The agent's variables an app may see under `policy`: the defaults plus `allow`, minus `deny` and the
 * agent's credentials. Computed once per agent; the result holds no token of the agent's.
 */
export function agentEnvForApps(
  agentEnv: NodeJS.ProcessEnv,
  policy: EnvPolicy = defaultEnvPolicy,
): Record<string, string> {
  const passes = globMatcher([...DEFAULT_PASS_THROUGH, ...policy.allow]);
  const denied = globMatcher([...ALWAYS_DENY, ...policy.deny]);
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(agentEnv)) {
    if (value !== undefined && passes(name) && !denied(name)) env[name] = value;
  }
  env['PATH'] ??= FALLBACK_PATH;
  return env;
}

export interface AppEnvParts {
  /** agentEnvForApps(...) of the agent. */
  readonly base: Readonly<Record<string, string>>;
  /** The user the app runs as: HOME, USER, LOGNAME and SHELL become that user's. */
  readonly user: ExecUser | undefined;
  /** appmesh's per-launch variables (APPMESH_PEERS, ...). */
  readonly launch: Readonly<Record<string, string>>;
  /** The spec's env: the operator's explicit choice, passed as written (appmesh expands nothing in it). */
  readonly spec: Readonly<Record<string, string>> | undefined;
  readonly app: string;
  /** The agent's id from its data dir; undefined when the caller keeps no ledger (tests). */
  readonly agentId: string | undefined;
}

/** The complete environment of one launch (the child inherits nothing else). */
export function appEnvironment(parts: AppEnvParts): Record<string, string> {
  const { user } = parts;
  return {
    ...parts.base,
    ...(user === undefined
      ? {}
      : { HOME: user.home, USER: user.name, LOGNAME: user.name, SHELL: user.shell }),
    ...parts.launch,
    ...parts.spec,
    [MARKER_APP]: parts.app,
    ...(parts.agentId === undefined ? {} : { [MARKER_AGENT_ID]: parts.agentId }),
  };
}
