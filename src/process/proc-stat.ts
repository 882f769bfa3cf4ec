// Reads Linux's /proc for what the supervisor needs about processes it may not be the parent of: a
// process's start time (which tells a live process from a reused pid), the members of a process group,
// and the group's memory and CPU use.
import { readFileSync } from 'node:fs';
import { open, readdir, type FileHandle } from 'node:fs/promises';

/** Kernel clock ticks per second in /proc times (USER_HZ, fixed at 100 in Linux's user-space ABI). */
const TICKS_PER_SECOND = 100;

export interface ProcStat {
  readonly pid: number;
  /** R, S, D, Z (zombie), T, ... */
  readonly state: string;
  readonly pgrp: number;
  /** CPU time of the process and of its children it has waited for, in clock ticks. */
  readonly cpuTicks: number;
  /** Clock ticks after boot at which the process started (field 22). */
  readonly startTime: number;
}

/** Parses /proc/<pid>/stat. The command name may hold spaces and parentheses, so fields count from the last ")". */
export function parseProcStat(pid: number, text: string): ProcStat | undefined {
  const close = text.lastIndexOf(')');
  if (close === -1) return undefined;
  // After ") " come fields 3 (state), 4 (ppid), 5 (pgrp), ...: field n is at index n - 3.
  const fields = text.slice(close + 2).split(' ');
  const field = (n: number) => Number(fields[n - 3]);
  const state = fields[0];
  const pgrp = field(5);
  const startTime = field(22);
  if (state === undefined || !Number.isInteger(pgrp) || !Number.isInteger(startTime)) return undefined;
  return { pid, state, pgrp, cpuTicks: field(14) + field(15) + field(16) + field(17), startTime };
}

/**
 * /proc/<pid>/stat and status are a few hundred bytes to ~1.5 KiB. fs.readFile reads files of unknown
 * size (procfs reports 0) into a 64 KiB buffer each time, which with a scan of every process twice a
 * second made tens of MB of short-lived external memory; one small read per file does not.
 */
const PROC_READ_BYTES = 4000;

async function readTextIfPresent(path: string): Promise<string | undefined> {
  let file: FileHandle | undefined;
  try {
    file = await open(path, 'r');
    const chunks: Buffer[] = [];
    for (;;) {
      const buffer = Buffer.allocUnsafe(PROC_READ_BYTES);
      const { bytesRead } = await file.read(buffer, 0, PROC_READ_BYTES, null);
      chunks.push(buffer.subarray(0, bytesRead));
      // procfs hands over the whole file in one read when it fits; a short read is its end.
      if (bytesRead < PROC_READ_BYTES) break;
    }
    return Buffer.concat(chunks).toString('utf8');
  } catch {
    // The process is gone (ENOENT/ESRCH) or not ours to read: either way there is nothing to report.
    return undefined;
  } finally {
    await file?.close().catch(() => undefined);
  }
}

/** The parsed stat of a live process: undefined for no text (gone), text that does not parse, or a zombie. */
function liveStat(pid: number, text: string | undefined): ProcStat | undefined {
  const stat = text === undefined ? undefined : parseProcStat(pid, text);
  return stat === undefined || stat.state === 'Z' ? undefined : stat;
}

/** The process's /proc/<pid>/stat, or undefined if it no longer exists or is a zombie. */
export async function readProcStat(pid: number): Promise<ProcStat | undefined> {
  return liveStat(pid, await readTextIfPresent(`/proc/${pid}/stat`));
}

/**
 * /proc/<pid>/stat field 22 (clock ticks after boot); undefined if the process is gone (or a zombie).
 * Read synchronously: procfs is served from kernel memory (a read costs microseconds), and this sits on
 * the path from spawn to `running`, where an async read queued for tens of ms behind the /proc scans
 * that occupy libuv's thread pool.
 */
export function readProcessStartTime(pid: number): Promise<number | undefined> {
  let text: string | undefined;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    text = undefined; // gone, or not ours to read
  }
  return Promise.resolve(liveStat(pid, text)?.startTime);
}

/**
 * The process's initial environment (/proc/<pid>/environ: NUL-separated `NAME=value`), or undefined
 * when it is gone or not ours to read.
 */
export function readProcessEnviron(pid: number): Promise<string | undefined> {
  return readTextIfPresent(`/proc/${pid}/environ`);
}

/** Every live (non-zombie) process in /proc. */
export async function scanProcesses(): Promise<ProcStat[]> {
  const pids = (await readdir('/proc')).filter((entry) => /^\d+$/.test(entry)).map(Number);
  const stats = await Promise.all(pids.map((pid) => readProcStat(pid)));
  return stats.filter((stat): stat is ProcStat => stat !== undefined);
}

/** Pids of the live processes whose process group is `pgid`. */
export async function groupMembers(pgid: number): Promise<number[]> {
  return (await scanProcesses()).filter((stat) => stat.pgrp === pgid).map((stat) => stat.pid);
}

export interface GroupUsage {
  readonly members: number;
  readonly rssBytes: number;
  readonly cpuSeconds: number;
}

async function residentBytes(pid: number): Promise<number> {
  const status = await readTextIfPresent(`/proc/${pid}/status`);
  const match = status === undefined ? null : /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return match ? Number(match[1]) * 1024 : 0;
}

/**
 * One /proc scan shared by every app sampling within `SHARED_SCAN_MAX_AGE_MS`: with many apps, a scan
 * per app per sample made an idle agent's CPU grow with apps × processes.
 */
const SHARED_SCAN_MAX_AGE_MS = 500;
let sharedScan: { readonly at: number; readonly stats: Promise<ProcStat[]> } | undefined;

function recentScan(): Promise<ProcStat[]> {
  const now = performance.now();
  if (sharedScan === undefined || now - sharedScan.at > SHARED_SCAN_MAX_AGE_MS) {
    sharedScan = { at: now, stats: scanProcesses() };
  }
  return sharedScan.stats;
}

/**
 * Memory (resident) and CPU (user + system, including waited-for children) of a whole process group,
 * from a /proc scan at most SHARED_SCAN_MAX_AGE_MS old.
 */
export async function readGroupUsage(pgid: number): Promise<GroupUsage> {
  const members = (await recentScan()).filter((stat) => stat.pgrp === pgid);
  const rss = await Promise.all(members.map((stat) => residentBytes(stat.pid)));
  return {
    members: members.length,
    rssBytes: rss.reduce((sum, bytes) => sum + bytes, 0),
    cpuSeconds: members.reduce((sum, stat) => sum + stat.cpuTicks, 0) / TICKS_PER_SECOND,
  };
}
