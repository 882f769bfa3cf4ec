// Labels and conditions are bounded where they are decoded (api/cluster.ts): nodes choose their own
// label values and the leader matches every condition against every node, so a longer key or value, or
// more entries, refuses the whole report or task with a line naming the entry.
import { expect } from 'chai';
import { isLeft, type Either } from 'fp-ts/lib/Either.js';
import {
  decodeClusterTask,
  MAX_LABEL_KEY_LENGTH,
  MAX_LABEL_VALUE_LENGTH,
  MAX_LABELS,
  NodeReport,
} from '../../api/cluster.js';
import { decode, type DecodeError } from '../../api/decode.js';

const SUBJECT = 'appmesh/cluster/nodes/n1';
const report = (label: unknown) => ({
  appmesh: 'http://127.0.0.1:6060',
  label,
  leader: false,
  resource: { cpu_cores: 1, mem_total_bytes: 0, mem_free_bytes: 0 },
  apps: {},
  version: '0.1.0',
});
const task = (condition: unknown) => ({ replication: 1, content: { command: 'true' }, condition });

function problemsOf<A>(result: Either<DecodeError, A>): readonly string[] {
  return isLeft(result) ? result.left.problems : [];
}

const manyEntries = (count: number) =>
  Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${i}`, 'v']));

describe('label and condition bounds', function () {
  it('accepts labels at the bounds: 128-character names, 256-character values, 64 entries', function () {
    const label = { ['k'.repeat(MAX_LABEL_KEY_LENGTH)]: 'v'.repeat(MAX_LABEL_VALUE_LENGTH) };
    expect(problemsOf(decode(NodeReport, report(label), SUBJECT))).to.deep.equal([]);
    expect(problemsOf(decode(NodeReport, report(manyEntries(MAX_LABELS)), SUBJECT))).to.deep.equal([]);
    expect([MAX_LABEL_KEY_LENGTH, MAX_LABEL_VALUE_LENGTH, MAX_LABELS]).to.deep.equal([128, 256, 64]);
  });

  it('refuses a node report whose label value is too long, naming the label', function () {
    const problems = problemsOf(decode(NodeReport, report({ zone: `${'a'.repeat(256)}!` }), SUBJECT));
    expect(problems).to.deep.equal([
      'label.zone: expected a label value of at most 256 characters, got 257 characters',
    ]);
  });

  it('refuses a label name that is too long instead of dropping it, quoting it shortened', function () {
    const problems = problemsOf(decode(NodeReport, report({ ['k'.repeat(129)]: 'v', ok: 'v' }), SUBJECT));
    expect(problems).to.have.length(1);
    expect(problems[0]).to.match(
      /^label\."k+\.\.\.": expected a label name of at most 128 characters, got 129 characters$/,
    );
  });

  it('refuses more than 64 labels, and non-string values as before', function () {
    expect(problemsOf(decode(NodeReport, report(manyEntries(65)), SUBJECT))).to.deep.equal([
      'label: expected at most 64 labels, got 65',
    ]);
    expect(problemsOf(decode(NodeReport, report({ zone: 5 }), SUBJECT))).to.deep.equal([
      'label.zone: expected string, got 5',
    ]);
  });

  it('bounds a task condition the same way, so a pattern is at most 256 characters', function () {
    const long = decodeClusterTask(task({ zone: `/${'a'.repeat(255)}/` }), 'web', 'task "web"');
    expect(problemsOf(long)).to.deep.equal([
      'condition.zone: expected a condition value of at most 256 characters, got 257 characters',
    ]);
    expect(problemsOf(decodeClusterTask(task(manyEntries(65)), 'web', 'task "web"'))).to.deep.equal([
      'condition: expected at most 64 conditions, got 65',
    ]);
    expect(problemsOf(decodeClusterTask(task({ zone: '/(a+)+$/' }), 'web', 'task "web"'))).to.deep.equal([]);
  });
});
