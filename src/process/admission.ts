// Whether one more app (or a changed one) may run on this agent next to the others: the agent-wide cap
// on output buffer memory, and an exec_user the agent can actually switch to. Checked when an app is
// put (a 400 naming the field) and again before it is launched (`failed` with last_error), since cluster
// apps and users change without a PUT.
import { appDefaults, type AppSpec } from '../../api/app.js';
import { lookupExecUser, type UserDatabase } from './exec-user.js';

export interface AdmissionLimits {
  /** Cap on the sum of every app's output_buffer_bytes (memory the agent may hold for output). */
  readonly maxTotalOutputBufferBytes: number;
}

const bufferBytes = (spec: AppSpec) => spec.output_buffer_bytes ?? appDefaults.outputBufferBytes;

/** Why `spec` would take the agent's output buffers over the cap, given the other apps; else undefined. */
export function outputBudgetProblem(
  spec: AppSpec,
  others: readonly AppSpec[],
  limits: AdmissionLimits,
): string | undefined {
  const total = others.reduce((sum, other) => sum + bufferBytes(other), bufferBytes(spec));
  if (total <= limits.maxTotalOutputBufferBytes) return undefined;
  return (
    `output_buffer_bytes: ${bufferBytes(spec)} more would take this agent's output buffers to ${total} bytes, ` +
    `above its maxTotalOutputBufferBytes ${limits.maxTotalOutputBufferBytes}; lower output_buffer_bytes or remove an app`
  );
}

/** Every reason `spec` cannot be accepted on this agent (empty: it can). */
export function admissionProblems(
  spec: AppSpec,
  others: readonly AppSpec[],
  limits: AdmissionLimits,
  users?: UserDatabase,
): string[] {
  const problems: string[] = [];
  const budget = outputBudgetProblem(spec, others, limits);
  if (budget !== undefined) problems.push(budget);
  if (spec.exec_user !== undefined) {
    const found = lookupExecUser(spec.exec_user, users);
    if ('problem' in found) problems.push(found.problem);
  }
  return problems;
}
