// The agent's API token always exists: configured (apiToken / apiTokenFile), or generated at first start
// into `<dataDir>/api-token` (mode 0600 in a 0700 directory, so only the agent's user can read it) and
// reused afterwards. The CLI on the same host finds it there. Small and dependency-free: the CLI loads it.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const API_TOKEN_FILE_NAME = 'api-token';

/** Where the agent keeps its state when not told: /var/lib/appmesh as root, else the XDG state dir. */
export function defaultDataDir(env: NodeJS.ProcessEnv): string {
  if (process.getuid?.() === 0) return '/var/lib/appmesh';
  return join(env['XDG_STATE_HOME'] || join(homedir(), '.local', 'state'), 'appmesh');
}

export function apiTokenPath(dataDir: string): string {
  return join(dataDir, API_TOKEN_FILE_NAME);
}

/** A token file's content, trimmed; an empty one is an error (it must never mean "no authentication"). */
export function tokenFromFileText(text: string, path: string, setting: string): string {
  const token = text.trim();
  if (token === '') {
    throw new Error(`${setting} ${path} is empty: put the API token in it, or remove the setting`);
  }
  if (/\s/.test(token)) {
    throw new Error(`${setting} ${path} holds more than one word: an API token has no white space`);
  }
  return token;
}

export function readTokenFileSync(path: string, setting: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`${setting} ${path} could not be read: ${(err as Error).message}`);
  }
  return tokenFromFileText(text, path, setting);
}

export async function readTokenFile(path: string, setting: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`${setting} ${path} could not be read: ${(err as Error).message}`);
  }
  return tokenFromFileText(text, path, setting);
}

export interface DataDirToken {
  readonly token: string;
  readonly path: string;
  /** True when this start wrote the file. */
  readonly generated: boolean;
  /** True when the file was readable by others and was made 0600. */
  readonly tightened: boolean;
}

/** The token in `<dataDir>/api-token`, generated (256 random bits) when the file does not exist yet. */
export async function dataDirToken(dataDir: string): Promise<DataDirToken> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const path = apiTokenPath(dataDir);
  const token = randomBytes(32).toString('base64url');
  try {
    // `wx`: never overwrite, so two agents racing on one data dir end up with one token.
    await writeFile(path, `${token}\n`, { mode: 0o600, flag: 'wx' });
    return { token, path, generated: true, tightened: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new Error(`could not write the API token to ${path}: ${(err as Error).message}`);
    }
  }
  const mode = (await stat(path)).mode & 0o777;
  const tightened = (mode & 0o077) !== 0;
  if (tightened) await chmod(path, 0o600);
  return {
    token: await readTokenFile(path, 'the generated API token file'),
    path,
    generated: false,
    tightened,
  };
}
