// Decoding at the edges: io-ts codecs applied to untrusted input, with errors turned into
// one readable line per problem, each naming the field path (e.g. `content.command: expected string, got 42`).
import * as t from 'io-ts';
import { isRight } from 'fp-ts/lib/Either.js';
import type { Either } from 'fp-ts/lib/Either.js';
import { left, right } from 'fp-ts/lib/Either.js';

/** Bad input: reported to the user verbatim, never retried. */
export class DecodeError extends Error {
  override readonly name = 'DecodeError';
  constructor(
    /** What was being decoded, e.g. a KV key or a file name. */
    readonly subject: string,
    /** One line per problem, each starting with its field path. */
    readonly problems: readonly string[],
  ) {
    super(problems.map((p) => `${subject}: ${p}`).join('\n'));
  }
}

/** A short, safe rendering of the offending value (never more than 60 characters). */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') {
    const shown = JSON.stringify(value);
    return shown.length > 60 ? `${shown.slice(0, 57)}..."` : shown;
  }
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'object') return 'an object';
  return typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint'
    ? String(value)
    : typeof value;
}

/**
 * A key as shown in a path: as it is when it is short and printable, else quoted and shortened, so a
 * user-supplied key (an unknown field, an env or label name) cannot break the one-line, bounded report.
 */
function pathSegment(key: string): string {
  return /^[^\s"\\\p{C}]{1,60}$/u.test(key) ? key : describeValue(key);
}

function pathOf(context: t.Context): string {
  // The first entry is the root codec; the rest are keys. Union/intersection members repeat the
  // parent key with an index as name, so keep only entries that step into the value.
  const keys: string[] = [];
  for (let i = 1; i < context.length; i++) {
    const entry = context[i];
    const parent = context[i - 1];
    if (entry === undefined || parent === undefined) continue;
    if (parent.type instanceof t.UnionType || parent.type instanceof t.IntersectionType) continue;
    if (entry.key === '') continue; // a codec that wraps another adds an anonymous step
    keys.push(pathSegment(entry.key));
  }
  return keys.length === 0 ? '(root)' : keys.join('.');
}

/** One line per problem: `path: expected <type>, got <value>` (or the codec's own message). */
export function reportErrors(errors: t.Errors): string[] {
  const lines = new Set<string>();
  for (const error of errors) {
    const last = error.context[error.context.length - 1];
    const expected = last?.type.name ?? 'a valid value';
    const detail = error.message ?? `expected ${expected}, got ${describeValue(error.value)}`;
    lines.add(`${pathOf(error.context)}: ${detail}`);
  }
  return [...lines];
}

/** Decode `value` with `codec`; a Left carries a DecodeError naming `subject` and every bad path. */
export function decode<A, O>(
  codec: t.Type<A, O, unknown>,
  value: unknown,
  subject: string,
): Either<DecodeError, A> {
  const result = codec.decode(value);
  return isRight(result) ? right(result.right) : left(new DecodeError(subject, reportErrors(result.left)));
}

/** Like `decode`, for callers that treat bad input as an exception. */
export function decodeOrThrow<A, O>(codec: t.Type<A, O, unknown>, value: unknown, subject: string): A {
  const result = decode(codec, value, subject);
  if (isRight(result)) return result.right;
  throw result.left;
}

/** Parse JSON text, then decode it; a syntax error is reported like any other problem. */
export function decodeJson<A, O>(
  codec: t.Type<A, O, unknown>,
  text: string,
  subject: string,
): Either<DecodeError, A> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return left(new DecodeError(subject, [`(root): not valid JSON (${(err as Error).message})`]));
  }
  return decode(codec, parsed, subject);
}
