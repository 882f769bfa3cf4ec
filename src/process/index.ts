// Local process supervision: the per-app supervisor and the pieces the agent needs beside it
// (recording live children and reaping what a previous agent run left behind).
export {
  AppProcess,
  type AppProcessDeps,
  type AppState,
  type AppStatus,
  type OutputChunk,
  type ProcessRecorder,
} from './app-process.js';
export { readProcessStartTime } from './proc-stat.js';
export { reapLeftovers, type LeftoverRecord, type ReapOutcome, type ReapResult } from './reap.js';
export { CommandLineError, commandLineFor, splitCommand, type CommandLine } from './command-line.js';
