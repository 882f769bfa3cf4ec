// Task conditions against node labels: exact values, whole-value globs, anchored `/regex/`, missing
// labels, and invalid regular expressions, which match nothing and are reported instead of thrown.
// Nodes choose their label values, so matching must stay linear: catastrophic patterns are timed, and
// glob and regex answers are checked against the backtracking RegExp versions they replaced.
import { expect } from 'chai';
import fc from 'fast-check';
import {
  compileSelector,
  matchesSelector,
  MAX_REGEX_PROGRAM_SIZE,
} from '../../controllers/scheduler/selectors.js';

const web1 = { HOST_NAME: 'web-1', arch: 'x86_64', os_version: 'ubuntu-22.04' };

describe('matchesSelector', function () {
  it('matches exact values, case-sensitively, and needs every entry to match', function () {
    expect(matchesSelector({ arch: 'x86_64' }, web1)).to.be.true;
    expect(matchesSelector({ arch: 'X86_64' }, web1)).to.be.false;
    expect(matchesSelector({ arch: 'x86_64', HOST_NAME: 'web-2' }, web1)).to.be.false;
    expect(matchesSelector({ arch: 'x86_64', HOST_NAME: 'web-1' }, web1)).to.be.true;
  });

  it('selects every node when the condition is empty', function () {
    expect(matchesSelector({}, web1)).to.be.true;
    expect(matchesSelector({}, {})).to.be.true;
  });

  it('matches a glob against the whole value, `*` for any run and `?` for one character', function () {
    expect(matchesSelector({ HOST_NAME: 'web-*' }, web1)).to.be.true;
    expect(matchesSelector({ HOST_NAME: 'web-?' }, web1)).to.be.true;
    expect(matchesSelector({ HOST_NAME: 'web-??' }, web1)).to.be.false;
    expect(matchesSelector({ HOST_NAME: 'web' + '*' }, { HOST_NAME: 'web' })).to.be.true;
    expect(matchesSelector({ HOST_NAME: 'eb-*' }, web1)).to.be.false;
    expect(matchesSelector({ os_version: 'ubuntu-2?.04' }, web1)).to.be.true;
  });

  it('treats regular-expression characters in a glob literally', function () {
    expect(matchesSelector({ os_version: 'ubuntu-22.*' }, web1)).to.be.true;
    expect(matchesSelector({ os_version: 'ubuntu-22.*' }, { os_version: 'ubuntu-22X04' })).to.be.false;
    expect(matchesSelector({ zone: '(a|b)*' }, { zone: 'a' })).to.be.false;
    expect(matchesSelector({ zone: '(a|b)*' }, { zone: '(a|b)-east' })).to.be.true;
  });

  it('anchors a /regex/ to the whole value', function () {
    expect(matchesSelector({ HOST_NAME: '/web-[0-9]+/' }, web1)).to.be.true;
    expect(matchesSelector({ HOST_NAME: '/web-1/' }, { HOST_NAME: 'web-10' })).to.be.false;
    expect(matchesSelector({ HOST_NAME: '/eb-1/' }, web1)).to.be.false;
    expect(matchesSelector({ HOST_NAME: '/.*eb-1.*/' }, web1)).to.be.true;
    expect(matchesSelector({ arch: '/x86_64|aarch64/' }, { arch: 'aarch64' })).to.be.true;
  });

  it('keeps the anchors when the expression has a top-level alternation or parentheses', function () {
    expect(matchesSelector({ arch: '/x86|arm/' }, { arch: 'x86_64' })).to.be.false;
    expect(matchesSelector({ arch: '/a)|(b/' }, { arch: 'zzb' })).to.be.false;
  });

  it('reads a value that is a lone slash or has one slash only as an exact string', function () {
    expect(matchesSelector({ path: '/' }, { path: '/' })).to.be.true;
    expect(matchesSelector({ path: '/usr' }, { path: '/usr' })).to.be.true;
  });

  it('never matches a missing label, whatever the pattern', function () {
    expect(matchesSelector({ gpu: 'true' }, web1)).to.be.false;
    expect(matchesSelector({ gpu: '*' }, web1)).to.be.false;
    expect(matchesSelector({ gpu: '/.*/' }, web1)).to.be.false;
    expect(matchesSelector({ constructor: '*' }, web1)).to.be.false;
  });

  it('matches an empty label value only with a pattern that allows it', function () {
    expect(matchesSelector({ role: '' }, { role: '' })).to.be.true;
    expect(matchesSelector({ role: '*' }, { role: '' })).to.be.true;
    expect(matchesSelector({ role: '?' }, { role: '' })).to.be.false;
  });
});

describe('compileSelector', function () {
  it('turns an invalid regular expression into a reported problem that matches nothing', function () {
    const selector = compileSelector({ HOST_NAME: '/[/', arch: 'x86_64' });
    expect(selector(web1)).to.be.false;
    expect(selector({ HOST_NAME: '[', arch: 'x86_64' })).to.be.false;
    expect(selector.problems).to.have.length(1);
    expect(selector.problems[0]).to.match(
      /^condition HOST_NAME: invalid regular expression \/\[\/ \(.+\); no node can match it$/,
    );
  });

  it('lists problems in label order and none for valid conditions', function () {
    expect(compileSelector({ b: '/(/', a: '/*/' }).problems.map((p) => p.split(':')[0])).to.deep.equal([
      'condition a',
      'condition b',
    ]);
    expect(compileSelector({ HOST_NAME: '/web-.*/', arch: 'x86_*' }).problems).to.deep.equal([]);
  });

  it('can be reused across many nodes with the same answers', function () {
    const selector = compileSelector({ HOST_NAME: '/web-[13]/' });
    const hosts = ['web-1', 'web-2', 'web-3', 'web-1', 'web-4'].map((HOST_NAME) => selector({ HOST_NAME }));
    expect(hosts).to.deep.equal([true, false, true, true, false]);
  });
});

describe('compileSelector under hostile labels', function () {
  // With a backtracking engine `(a+)+$` against 27 `a`s and `!` took ~1 s, doubling per character; a
  // linear engine answers in microseconds. The bounds are 100x what this machine needs, and still a
  // million times less than exponential time would take.
  const catastrophic = ['/(a+)+$/', '/(a|aa)*b/', '/(.*a){20}/', '/(x+x+)+y/', '/([a-z]+)*[0-9]/'];

  it('evaluates catastrophic-backtracking patterns against a 28-character label in well under 100 ms', function () {
    for (const pattern of catastrophic) {
      const selector = compileSelector({ zone: pattern });
      expect(selector.problems, pattern).to.deep.equal([]);
      const started = performance.now();
      expect(selector({ zone: `${'a'.repeat(27)}!` }), pattern).to.be.false;
      expect(performance.now() - started, pattern).to.be.below(100);
    }
  });

  it('evaluates them 1,000 times each against a 256-character label (the longest allowed) in under 5 s', function () {
    const label = { zone: `${'a'.repeat(255)}!` };
    const started = performance.now();
    for (const pattern of catastrophic) {
      const selector = compileSelector({ zone: pattern });
      for (let i = 0; i < 1000; i++) selector(label);
    }
    expect(performance.now() - started).to.be.below(5000);
  });

  it('matches many-star globs against long values without backtracking blow-up', function () {
    const selector = compileSelector({ zone: `${'*a'.repeat(20)}*b` });
    const started = performance.now();
    for (let i = 0; i < 100; i++) expect(selector({ zone: 'a'.repeat(256) })).to.be.false;
    expect(performance.now() - started).to.be.below(2000);
    expect(selector({ zone: `${'a'.repeat(255)}b` })).to.be.true;
  });

  it('refuses, as a problem, an expression that compiles to more than the program-size bound', function () {
    const selector = compileSelector({ zone: `/${'\\pL{999}'.repeat(3)}/` });
    expect(selector({ zone: 'a' })).to.be.false;
    expect(selector.problems).to.have.length(1);
    expect(selector.problems[0]).to.match(
      new RegExp(
        `^condition zone: regular expression .+ is too large \\(\\d+ RE2 instructions, at most ${MAX_REGEX_PROGRAM_SIZE}`,
      ),
    );
  });

  it('reports backreferences and lookaround, which RE2 does not have, as problems naming the syntax', function () {
    for (const pattern of ['/(a)\\1/', '/(?=a)a/', '/a(?!b)/']) {
      const selector = compileSelector({ zone: pattern });
      expect(selector({ zone: 'aa' }), pattern).to.be.false;
      expect(selector.problems[0], pattern).to.match(
        /RE2 syntax, no backreferences or lookaround\); no node can match it$/,
      );
    }
  });
});

describe('compileSelector keeps the semantics of the RegExp versions it replaced', function () {
  // The matchers before the linear ones, kept here as the reference.
  const globPart = (char: string): string =>
    char === '*' ? '.*' : char === '?' ? '.' : char.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
  const referenceGlob = (pattern: string, value: string): boolean =>
    new RegExp(`^${[...pattern].map(globPart).join('')}$`, 'su').test(value);
  const referenceRegex = (body: string, value: string): boolean => new RegExp(`^(?:${body})$`).test(value);

  const RUNS = { numRuns: 2000 };
  // Small alphabets make matches frequent; the astral and surrogate characters check `?` per code point.
  const char = fc.constantFrom('a', 'b', '-', '.', '\n', 'é', '\u{1F600}', '\uD800', '(', '\\');
  const text = fc.array(char, { maxLength: 12 }).map((chars) => chars.join(''));
  const globPattern = fc
    .array(fc.oneof(char, fc.constantFrom('*', '?')), { maxLength: 8 })
    .map((chars) => chars.join(''))
    .filter((pattern) => pattern.includes('*') || pattern.includes('?'));

  it('matches globs exactly as the anchored `su` RegExp did', function () {
    fc.assert(
      fc.property(globPattern, text, (pattern, value) => {
        expect(matchesSelector({ k: pattern }, { k: value }), `${pattern} ~ ${value}`).to.equal(
          referenceGlob(pattern, value),
        );
      }),
      RUNS,
    );
  });

  it('matches globs against values built from the pattern itself (where matches are likely)', function () {
    const fill = fc.array(fc.constantFrom('', 'a', 'ab', '\u{1F600}'), { minLength: 8, maxLength: 8 });
    fc.assert(
      fc.property(globPattern, fill, (pattern, fills) => {
        let i = 0;
        const value = [...pattern].map((c) => (c === '*' || c === '?' ? (fills[i++ % 8] ?? '') : c)).join('');
        expect(matchesSelector({ k: pattern }, { k: value }), `${pattern} ~ ${value}`).to.equal(
          referenceGlob(pattern, value),
        );
      }),
      RUNS,
    );
  });

  it('compares exact values as plain strings', function () {
    fc.assert(
      fc.property(text, text, (pattern, value) => {
        fc.pre(
          !pattern.includes('*') &&
            !pattern.includes('?') &&
            !(pattern.startsWith('/') && pattern.endsWith('/')),
        );
        expect(matchesSelector({ k: pattern }, { k: value })).to.equal(pattern === value);
      }),
      RUNS,
    );
  });

  it('matches the regular expressions both engines share exactly as `^(?:body)$` did', function () {
    // A grammar of the syntax RE2 and JavaScript read alike: literals, classes, groups, alternation,
    // the usual quantifiers, `.` (no newline in either) and `\d`/`\w`.
    const atom = fc.constantFrom('a', 'b', '-', '[ab]', '[^a]', '.', '\\d', '\\w', '\\.', '[a-c]');
    const expression: fc.Arbitrary<string> = fc.letrec<{ re: string }>((tie) => ({
      re: fc.oneof(
        { depthSize: 'small' },
        atom,
        fc.tuple(tie('re'), fc.constantFrom('*', '+', '?', '{1,2}', '')).map(([re, q]) => `(?:${re})${q}`),
        fc.tuple(tie('re'), tie('re')).map(([a, b]) => `${a}${b}`),
        fc.tuple(tie('re'), tie('re')).map(([a, b]) => `${a}|${b}`),
        tie('re').map((re) => `(${re})`),
      ),
    })).re;
    const value = fc
      .array(fc.constantFrom('a', 'b', 'c', '-', '.', '1', '\n'), { maxLength: 8 })
      .map((c) => c.join(''));
    fc.assert(
      fc.property(expression, value, (body, v) => {
        const selector = compileSelector({ k: `/${body}/` });
        expect(selector.problems, body).to.deep.equal([]);
        expect(selector({ k: v }), `/${body}/ ~ ${JSON.stringify(v)}`).to.equal(referenceRegex(body, v));
      }),
      RUNS,
    );
  });
});
