// `exec_user`: run an app as another local user. The user is looked up in /etc/passwd and /etc/group
// (no shell-out to `id`), and the process is started through util-linux's `setpriv`, because Node's
// child_process can set uid and gid but not the supplementary groups, and a process that keeps root's
// groups (e.g. gid 0's) would keep their file access.
import { existsSync, readFileSync } from 'node:fs';
import type { CommandLine } from './command-line.js';

export interface ExecUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  /** Supplementary groups: every group in /etc/group that lists the user, plus the primary group. */
  readonly groups: readonly number[];
  readonly home: string;
  readonly shell: string;
}

export type ExecUserLookup = { readonly user: ExecUser } | { readonly problem: string };

/** Where setpriv lives on Debian/Ubuntu (util-linux) and most other distributions. */
const SETPRIV_PATHS = ['/usr/bin/setpriv', '/bin/setpriv'];

export interface UserDatabase {
  readonly passwd: string;
  readonly group: string;
  /** The agent's own uid (switching to another user needs root). */
  readonly agentUid: number;
  readonly setpriv: string | undefined;
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/**
 * The host's user database as files. Read synchronously at each lookup: both files are a few KiB, a
 * lookup happens at PUT and at a launch, and a user added or removed since takes effect at once.
 */
export function hostUserDatabase(): UserDatabase {
  return {
    passwd: readText('/etc/passwd'),
    group: readText('/etc/group'),
    agentUid: process.getuid?.() ?? -1,
    setpriv: SETPRIV_PATHS.find((path) => existsSync(path)),
  };
}

/** Resolves `name` to the ids the process must run with, or says why the agent cannot run as it. */
export function lookupExecUser(name: string, db: UserDatabase = hostUserDatabase()): ExecUserLookup {
  // passwd: name:password:uid:gid:gecos:home:shell
  const entry = db.passwd
    .split('\n')
    .map((line) => line.split(':'))
    .find((fields) => fields.length >= 7 && fields[0] === name);
  const uid = Number(entry?.[2]);
  const gid = Number(entry?.[3]);
  if (entry === undefined || !Number.isInteger(uid) || !Number.isInteger(gid)) {
    return {
      problem: `exec_user: no user ${JSON.stringify(name)} in /etc/passwd on this host; create it or fix exec_user`,
    };
  }
  if (db.agentUid !== 0 && db.agentUid !== uid) {
    return {
      problem:
        `exec_user: the agent runs as uid ${db.agentUid}, not root, so it cannot start processes as ` +
        `${JSON.stringify(name)} (uid ${uid}); run the agent as root or drop exec_user`,
    };
  }
  if (db.agentUid === 0 && uid !== 0 && db.setpriv === undefined) {
    return {
      problem:
        'exec_user: setpriv (util-linux) is not installed, so supplementary groups cannot be set; install util-linux',
    };
  }
  // group: name:password:gid:member,member
  const groups = new Set<number>([gid]);
  for (const line of db.group.split('\n')) {
    const fields = line.split(':');
    const groupId = Number(fields[2]);
    if (fields.length >= 4 && Number.isInteger(groupId) && (fields[3] ?? '').split(',').includes(name)) {
      groups.add(groupId);
    }
  }
  return {
    user: {
      name,
      uid,
      gid,
      groups: [...groups].sort((a, b) => a - b),
      home: entry[5] ?? '/',
      shell: entry[6] ?? '/bin/sh',
    },
  };
}

/**
 * The command line that runs `commandLine` as `user`: unchanged when the agent already is that user,
 * otherwise through setpriv, which sets the real and effective uid/gid and exactly the user's groups,
 * then execs the program (the pid stays the same, so the process group and the ledger are unaffected).
 */
export function commandLineAs(
  commandLine: CommandLine,
  user: ExecUser | undefined,
  db: Pick<UserDatabase, 'agentUid' | 'setpriv'>,
): CommandLine {
  if (user === undefined || user.uid === db.agentUid) return commandLine;
  if (db.setpriv === undefined)
    throw new Error('setpriv (util-linux) is not installed; exec_user cannot be honoured');
  return {
    ...commandLine,
    file: db.setpriv,
    args: [
      `--reuid=${user.uid}`,
      `--regid=${user.gid}`,
      `--groups=${user.groups.join(',')}`,
      '--',
      commandLine.file,
      ...commandLine.args,
    ],
  };
}
