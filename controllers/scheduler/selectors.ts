// Label selectors for cluster tasks. A task's `condition` maps a label name to an exact value, a glob
// (`*`, `?`) or a `/regular expression/`; a node qualifies only if every entry matches its labels.
// Compiled once per condition so the scheduler can test thousands of nodes without re-parsing patterns.

export type Labels = Readonly<Record<string, string>>;
export type Condition = Readonly<Record<string, string>>;

/**
 * A compiled condition: call it with a node's labels. `problems` lists, as readable text in label order,
 * the entries that can never match (invalid regular expressions), so the scheduler can tell the user.
 */
export interface CompiledSelector {
  (labels: Labels): boolean;
  readonly problems: readonly string[];
}

type ValueMatcher = (value: string) => boolean;

interface CompiledEntry {
  readonly label: string;
  readonly matches: ValueMatcher;
}

const matchesNothing: ValueMatcher = () => false;

/**
 * Compiles a condition. Each value is read as:
 * - `/body/` (at least two characters, slash at both ends): a regular expression that must match the
 *   WHOLE label value, i.e. `^(?:body)$`, without flags. Anchoring makes `/web-1/` mean what it reads
 *   as instead of also matching `web-10`; put `.*` at both ends for a substring match. An invalid
 *   expression never throws: the entry matches nothing and is listed in `problems`.
 * - a value containing `*` (any run of characters, including none) or `?` (exactly one character):
 *   a glob, also matched against the whole label value.
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

function compilePattern(pattern: string): { matches: ValueMatcher; problem?: string } {
  if (pattern.length >= 2 && pattern.startsWith('/') && pattern.endsWith('/')) {
    return compileRegularExpression(pattern.slice(1, -1));
  }
  if (pattern.includes('*') || pattern.includes('?')) {
    // `u`: a `?` stands for one character even outside the Basic Multilingual Plane.
    const glob = new RegExp(`^${[...pattern].map(globPart).join('')}$`, 'su');
    return { matches: (value) => glob.test(value) };
  }
  return { matches: (value) => value === pattern };
}

function compileRegularExpression(body: string): { matches: ValueMatcher; problem?: string } {
  try {
    // Compiled alone first: a body that is valid by itself has balanced groups, so wrapping it in
    // `^(?:...)$` cannot be escaped by a body like `a)|(b`, and the error text shows the user's pattern.
    new RegExp(body);
  } catch (error: unknown) {
    const detail = error instanceof Error ? error.message : String(error);
    const engineSays = detail.replace(`Invalid regular expression: /${body}/: `, '');
    return {
      matches: matchesNothing,
      problem: `invalid regular expression /${body}/ (${engineSays}); no node can match it`,
    };
  }
  const anchored = new RegExp(`^(?:${body})$`);
  return { matches: (value) => anchored.test(value) };
}

function globPart(char: string): string {
  if (char === '*') return '.*';
  if (char === '?') return '.';
  return char.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}
