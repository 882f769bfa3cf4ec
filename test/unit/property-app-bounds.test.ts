// Property-based tests of the App spec rules that keep hostile specs from reaching a process: a NUL byte
// in any string that exec would get is refused naming its field, and every size and interval is
// accepted exactly within its documented bound (api/app.ts appBounds), whatever the number.
import { expect } from 'chai';
import fc from 'fast-check';
import { isLeft, isRight } from 'fp-ts/lib/Either.js';
import { appBounds, decodeAppSpec } from '../../api/app.js';
import { decodeClusterTask } from '../../api/cluster.js';

const RUNS = { numRuns: 300 };

/** A string with a NUL byte somewhere (start, middle or end). */
const withNul = fc
  .tuple(fc.string(), fc.string())
  .map(([before, after]) => `${before.trim() === '' ? 'x' : before}\u0000${after}`);

/** Where a string can reach exec, as a spec fragment, and the path its problem must name. */
const placements: Array<{ field: string; spec: (s: string) => Record<string, unknown>; path: string }> = [
  { field: 'command', spec: (s) => ({ command: s }), path: 'command' },
  { field: 'working_dir', spec: (s) => ({ working_dir: s }), path: 'working_dir' },
  { field: 'health_check_cmd', spec: (s) => ({ health_check_cmd: s }), path: 'health_check_cmd' },
  { field: 'env value', spec: (s) => ({ env: { OK: 'fine', BAD: s } }), path: 'env.BAD' },
];

function problemsOf(value: Record<string, unknown>): readonly string[] {
  const result = decodeAppSpec({ name: 'web', command: 'true', ...value }, 'app "web"');
  return isLeft(result) ? result.left.problems : [];
}

describe('App spec bounds (property-based)', function () {
  describe('NUL bytes', function () {
    for (const { field, spec, path } of placements) {
      it(`refuses a NUL in ${field}, naming ${path}`, function () {
        fc.assert(
          fc.property(withNul, (text) => {
            const problems = problemsOf(spec(text));
            expect(
              problems.some((p) => p.startsWith(`${path}: `) && p.includes('NUL')),
              problems.join('; '),
            ).to.be.true;
          }),
          RUNS,
        );
      });
    }

    it('refuses a NUL or "=" in an env name, naming the variable', function () {
      fc.assert(
        fc.property(fc.string(), fc.constantFrom('\u0000', '='), fc.string(), (a, bad, b) => {
          const name = `${a}${bad}${b}`;
          const problems = problemsOf({ env: { [name]: 'v' } });
          expect(problems.some((p) => p.startsWith('env.') && p.includes('variable name'))).to.be.true;
        }),
        RUNS,
      );
    });

    it('refuses a NUL in a cluster task content the same way', function () {
      fc.assert(
        fc.property(withNul, (text) => {
          const result = decodeClusterTask(
            { replication: 1, content: { command: 'x', env: { A: text } } },
            'web',
            't',
          );
          expect(isLeft(result) && result.left.problems.some((p) => p.startsWith('content.env.A: '))).to.be
            .true;
        }),
        { numRuns: 100 },
      );
    });

    it('refuses exec_user that is not a user name (NUL, spaces, empty, too long)', function () {
      fc.assert(
        fc.property(
          fc.oneof(withNul, fc.constantFrom('', 'a b', 'root;id', '-x', 'x'.repeat(33))),
          (user) => {
            expect(problemsOf({ exec_user: user }).some((p) => p.startsWith('exec_user: '))).to.be.true;
          },
        ),
        RUNS,
      );
    });

    it('accepts every NUL-free value in these fields', function () {
      const text = fc.string({ minLength: 1 }).filter((s) => s.trim() !== '' && !s.includes('\u0000'));
      fc.assert(
        fc.property(text, text, (command, value) => {
          expect(
            problemsOf({ command, working_dir: value, health_check_cmd: value, env: { A: value } }),
          ).to.deep.equal([]);
        }),
        RUNS,
      );
    });
  });

  describe('sizes and intervals', function () {
    const bounded: Array<{ field: string; min: number; max: number; integer: boolean }> = [
      { field: 'output_buffer_lines', min: 1, max: appBounds.outputBufferLinesMax, integer: true },
      { field: 'output_buffer_bytes', min: 1, max: appBounds.outputBufferBytesMax, integer: true },
      {
        field: 'health_check_interval_seconds',
        min: appBounds.healthCheckIntervalSecondsMin,
        max: appBounds.healthCheckIntervalSecondsMax,
        integer: false,
      },
      {
        field: 'health_check_timeout_seconds',
        min: appBounds.healthCheckTimeoutSecondsMin,
        max: appBounds.healthCheckTimeoutSecondsMax,
        integer: false,
      },
      { field: 'stop_timeout_seconds', min: 0, max: appBounds.stopTimeoutSecondsMax, integer: false },
    ];
    /** Numbers around and far beyond each bound, and the values of issue 14 (1e15, 0.0001). */
    const anyNumber = fc.oneof(
      fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e16, max: 1e16 }),
      fc.integer({ min: -10, max: 200_000 }),
      fc.constantFrom(
        0,
        0.0001,
        0.001,
        0.1,
        1,
        1e15,
        64 * 1024 * 1024,
        64 * 1024 * 1024 + 1,
        100_000,
        100_001,
      ),
    );

    for (const { field, min, max, integer } of bounded) {
      it(`accepts ${field} exactly within [${min}, ${max}]${integer ? ' (whole numbers)' : ''}`, function () {
        fc.assert(
          fc.property(anyNumber, (n) => {
            const inside = n >= min && n <= max && (!integer || Number.isInteger(n));
            const problems = problemsOf({ [field]: n });
            expect(problems.length === 0, `${field}=${n}: ${problems.join('; ')}`).to.equal(inside);
            if (!inside) expect(problems[0]).to.match(new RegExp(`^${field}: expected .*from ${min}`));
          }),
          RUNS,
        );
      });
    }

    it(`accepts start_interval_seconds only from ${appBounds.startIntervalSecondsMin} s on, as a number or ISO-8601`, function () {
      fc.assert(
        fc.property(anyNumber, (n) => {
          const inside = n >= appBounds.startIntervalSecondsMin;
          const asNumber = problemsOf({ start_interval_seconds: n });
          expect(asNumber.length === 0, `${n}: ${asNumber.join('; ')}`).to.equal(inside);
          if (n >= 0 && n < 1e9) {
            const iso = problemsOf({ start_interval_seconds: `PT${n.toFixed(6)}S` });
            expect(iso.length === 0, `PT${n}S`).to.equal(
              Number(n.toFixed(6)) >= appBounds.startIntervalSecondsMin,
            );
          }
        }),
        RUNS,
      );
    });

    it('refuses an env entry or command longer than one exec string may be', function () {
      const max = appBounds.processStringBytesMax;
      expect(problemsOf({ env: { A: 'x'.repeat(max - 2) } })).to.deep.equal([]);
      expect(problemsOf({ env: { A: 'x'.repeat(max - 1) } })[0]).to.match(/^env\.A: \d+ bytes is more than/);
      expect(problemsOf({ command: 'x'.repeat(max + 1) })[0]).to.match(/^command: /);
      expect(isRight(decodeAppSpec({ name: 'web', command: 'x'.repeat(max) }, 'app'))).to.be.true;
    });
  });
});
