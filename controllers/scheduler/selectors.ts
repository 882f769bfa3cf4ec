// Label selectors for cluster tasks. A task's `condition` maps a label name to an exact value, a glob
// (`*`, `?`) or a `/regular expression/`; a node qualifies only if every entry matches its labels.
// Label values are chosen by the nodes themselves, so every matcher here runs in time linear in the
// value (regular expressions on RE2's automata, globs on a loop without backtracking into itself).
import { RE2JS, RE2JSException } from 're2js';

export type Labels = Readonly<Record<string, string>>;
export type Condition = Readonly<Record<string, string>>;

/**
 * A compiled condition: call it with a node's labels. `problems` lists, as readable text in label order,
 * the entries that can never match (invalid or oversized regular expressions), so the scheduler can tell
 * the user.
 */
export interface CompiledSelector {
  (labels: Labels): boolean;
  readonly problems: readonly string[];
}

type ValueMatcher = (value: string) => boolean;

interface CompiledPattern {
  readonly matches: ValueMatcher;
  readonly problem?: string;
}

interface CompiledEntry {
  readonly label: string;
  readonly matches: ValueMatcher;
}

const matchesNothing: ValueMatcher = () => false;

/**
 * The largest RE2 program a condition may compile to. Matching costs at most (program size x value
 * length) steps, so this bounds one evaluation against a 256-character label (api/cluster.ts) at a few
 * hundred microseconds: `(.*a){100}`, 502 instructions, took 35 µs per 256-character value. Ordinary
 * conditions are tiny (`web-[0-9]+` is 8, an IPv4 pattern 31); `\pL{999}` repeated 28 times (27,974)
 * took 2.4 ms per match and 51 ms to compile, which is why it is refused.
 */
export const MAX_REGEX_PROGRAM_SIZE = 1000;

/**
 * Compiles a condition. Each value is read as:
 * - `/body/` (at least two characters, slash at both ends): a regular expression in RE2 syntax that
 *   must match the WHOLE label value, i.e. `^(?:body)$`, without flags. Anchoring makes `/web-1/` mean
 *   what it reads as instead of also matching `web-10`; put `.*` at both ends for a substring match.
 *   RE2 has no backreferences or lookaround (that is what keeps matching linear); such an expression,
 *   an invalid one, or one larger than MAX_REGEX_PROGRAM_SIZE never throws: the entry matches nothing
 *   and is listed in `problems`.
 * - a value containing `*` (any run of characters, including none) or `?` (exactly one character, a
 *   whole code point even outside the Basic Multilingual Plane): a glob, matched against the whole value.
 * - anything else: an exact, case-sensitive string.
 * A node without the label never matches, whatever the pattern (even `*`).
 */
export function compileSelector(condition: Condition): CompiledSelector {
  const problems: string[] = [];
  const entries: CompiledEntry[] = Object.entries(condition)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([label, pattern]) => {
      const compiled = compilePattern(pattern);
      if (compiled.problem !== undefined) problems.push(`condition ${label}: ${compiled.problem}`);
      return { label, matches: compiled.matches };
    });
  // A loop, not `entries.every(...)`: the scheduler calls this for every node and condition, and a
  // callback closing over `labels` would be allocated on each call.
  const selector = (labels: Labels): boolean => {
    for (const { label, matches } of entries) {
      // hasOwn: a label named e.g. `constructor` must not find Object.prototype's member.
      if (!Object.hasOwn(labels, label)) return false;
      const value = labels[label];
      if (typeof value !== 'string' || !matches(value)) return false;
    }
    return true;
  };
  return Object.assign(selector, { problems });
}

/** Whether `labels` satisfy every entry of `condition`; see compileSelector for the pattern syntax. */
export function matchesSelector(condition: Condition, labels: Labels): boolean {
  return compileSelector(condition)(labels);
}

// Not cached across schedule runs: a warm RE2 compile of a condition like `web-[0-9]+` costs ~90 µs,
// and the scheduler compiles each distinct condition once per run.
function compilePattern(pattern: string): CompiledPattern {
  if (pattern.length >= 2 && pattern.startsWith('/') && pattern.endsWith('/')) {
    return compileRegularExpression(pattern.slice(1, -1));
  }
  if (pattern.includes('*') || pattern.includes('?')) return { matches: compileGlob(pattern) };
  return { matches: (value) => value === pattern };
}

function compileRegularExpression(body: string): CompiledPattern {
  let compiled: RE2JS;
  try {
    // RE2 parses the body alone, so a body like `a)|(b` is a syntax error rather than an escape from
    // the anchors; testExact anchors at both ends without wrapping the text.
    compiled = RE2JS.compile(body);
  } catch (error: unknown) {
    if (!(error instanceof RE2JSException)) throw error;
    const engineSays = error.message.replace(/^error parsing regexp: /, '');
    return {
      matches: matchesNothing,
      problem: `invalid regular expression /${body}/ (${engineSays}; RE2 syntax, no backreferences or lookaround); no node can match it`,
    };
  }
  const size = compiled.programSize();
  if (size > MAX_REGEX_PROGRAM_SIZE) {
    return {
      matches: matchesNothing,
      problem: `regular expression /${body}/ is too large (${size} RE2 instructions, at most ${MAX_REGEX_PROGRAM_SIZE}: use smaller repeat counts); no node can match it`,
    };
  }
  return { matches: (value) => compiled.testExact(value) };
}

const ANY_RUN = -1; // `*`
const ANY_ONE = -2; // `?`

/**
 * A glob as an array of code points (`*` and `?` as the two negative markers), matched by the classic
 * greedy loop: on a mismatch it only moves the last `*` one character further, so a match costs at most
 * (pattern length x value length) steps — a RegExp `^.*a.*a.*b$` backtracks polynomially deeper per `*`.
 */
function compileGlob(pattern: string): ValueMatcher {
  const parts: number[] = [];
  for (const char of pattern) {
    parts.push(char === '*' ? ANY_RUN : char === '?' ? ANY_ONE : codePointOf(char));
  }
  return (value) => matchesGlob(parts, value);
}

function matchesGlob(parts: readonly number[], value: string): boolean {
  let part = 0;
  let at = 0;
  let lastRun = -1; // index in `parts` of the latest `*` seen
  let runEnd = 0; // where in `value` the characters that `*` swallows end
  while (at < value.length) {
    const char = codePointOf(value, at);
    const expected = part < parts.length ? parts[part] : undefined;
    if (expected === ANY_RUN) {
      lastRun = part;
      runEnd = at;
      part++;
    } else if (expected === ANY_ONE || expected === char) {
      part++;
      at += widthOf(char);
    } else if (lastRun >= 0) {
      // Let the last `*` take one more character and retry the rest of the pattern after it.
      runEnd += widthOf(codePointOf(value, runEnd));
      at = runEnd;
      part = lastRun + 1;
    } else {
      return false;
    }
  }
  while (part < parts.length && parts[part] === ANY_RUN) part++;
  return part === parts.length;
}

/** The code point at `index`; a lone surrogate stands for itself, as in a RegExp with the `u` flag. */
function codePointOf(text: string, index = 0): number {
  return text.codePointAt(index) ?? 0;
}

function widthOf(codePoint: number): number {
  return codePoint > 0xffff ? 2 : 1;
}
