// Property-based tests of every decoder at the edges: arbitrary input never throws and is either accepted
// or reported as one bounded line per problem naming its path; valid values survive a JSON round trip;
// oversized and deeply nested values are handled; names are exactly the documented pattern.
import { expect } from 'chai';
import fc from 'fast-check';
import * as t from 'io-ts';
import { isLeft, isRight, type Either } from 'fp-ts/lib/Either.js';
import { AgentConfigFile } from '../../api/agent-config.js';
import { decodeAppSpec } from '../../api/app.js';
import {
  decodeClusterTask,
  decodeClusterTaskJson,
  LeaderRecord,
  NodeReport,
  NodeTopology,
  TaskStatusRecord,
} from '../../api/cluster.js';
import { decode, type DecodeError } from '../../api/decode.js';
import { Manifest } from '../../api/manifest.js';

const MAX_LINE = 300;
const RUNS = { numRuns: 200 };

/** Every decoder under test, reduced to "value in, Either out". */
const decoders: Record<string, (value: unknown) => Either<DecodeError, unknown>> = {
  decodeAppSpec: (value) => decodeAppSpec(value, 'app "web"'),
  decodeClusterTask: (value) => decodeClusterTask(value, 'web', 'task "web"'),
  decodeClusterTaskJson: (value) =>
    decodeClusterTaskJson(typeof value === 'string' ? value : (JSON.stringify(value) ?? null), 'web', 'task'),
  NodeReport: (value) => decode(NodeReport, value, 'node n1'),
  NodeTopology: (value) => decode(NodeTopology, value, 'topology n1'),
  LeaderRecord: (value) => decode(LeaderRecord, value, 'leader'),
  TaskStatusRecord: (value) => decode(TaskStatusRecord, value, 'status web'),
  Manifest: (value) => decode(Manifest, value, 'web.yaml'),
  AgentConfigFile: (value) => decode(AgentConfigFile, value, 'agent.yaml'),
};

/** A Left has problems, each one line that starts with a path and stays short whatever the input. */
function expectWellFormed(name: string, result: Either<DecodeError, unknown>): void {
  if (isRight(result)) return;
  const { problems } = result.left;
  expect(problems, `${name}: a rejection names at least one problem`).to.not.be.empty;
  for (const problem of problems) {
    expect(problem, `${name}: one line`).to.not.include('\n');
    expect(problem.length, `${name}: bounded: ${problem.slice(0, 400)}`).to.be.at.most(MAX_LINE);
    expect(problem, `${name}: starts with a path`).to.match(/^(\(root\)|\S.*?): ./);
  }
}

function checkAll(value: unknown): void {
  for (const [name, decoder] of Object.entries(decoders)) expectWellFormed(name, decoder(value));
}

const appFieldNames = [
  'name',
  'command',
  'shell',
  'env',
  'status',
  'port',
  'start_interval_seconds',
  'cron',
  'behavior',
  'service',
  'retention',
  'daily_limitation',
  'start_time',
  'end_time',
  'resource_limit',
  'docker_image',
];
const taskFieldNames = ['replication', 'content', 'port', 'dynamicPort', 'memoryMB', 'condition'];

/** Objects close to valid ones: known field names with arbitrary values, plus arbitrary keys. */
const nearlyValid = fc.oneof(
  fc.dictionary(fc.oneof(fc.constantFrom(...appFieldNames), fc.string()), fc.anything()),
  fc.record({
    replication: fc.oneof(fc.nat(5), fc.anything()),
    content: fc.dictionary(fc.oneof(fc.constantFrom(...appFieldNames), fc.string()), fc.anything()),
    condition: fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.anything())),
  }),
  fc.dictionary(fc.constantFrom(...taskFieldNames), fc.anything()),
);

/** JSON values as they come back from JSON text (no -0, which JSON turns into 0). */
const jsonValue = fc.jsonValue().map((value) => JSON.parse(JSON.stringify(value)) as unknown);

const validName = fc.stringMatching(/^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,20}$/);
const duration = fc.oneof(fc.integer({ min: 1, max: 86_400 }), fc.constantFrom('PT30S', 'P1DT2H', '45'));

/** App specs that must decode. */
const validApp = fc.record(
  {
    name: validName,
    command: fc.string({ minLength: 1 }).filter((s) => s.trim().length > 0),
    shell: fc.boolean(),
    description: fc.string(),
    // Names with "=" cannot be passed to exec (see property-app-bounds.test.ts).
    env: fc.dictionary(
      fc.string({ minLength: 1 }).filter((key) => !key.includes('=')),
      fc.string(),
    ),
    status: fc.constantFrom(0, 1),
    port: fc.integer({ min: 1, max: 65_535 }),
    start_interval_seconds: duration,
    behavior: fc.record(
      { exit: fc.constantFrom('standby', 'restart', 'keepalive', 'remove') },
      { requiredKeys: [] },
    ),
    retention: duration,
    stop_timeout_seconds: fc.nat(600),
    output_buffer_lines: fc.integer({ min: 1, max: 10_000 }),
    metadata: jsonValue,
    service: fc.record(
      {
        name: fc.constantFrom('web', 'api-1'),
        tags: fc.array(fc.constantFrom('a', 'b')),
        check: fc.constantFrom('http', 'tcp'),
      },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: ['name', 'command'] },
);

const validTask = fc.record(
  {
    replication: fc.nat(5),
    content: validApp.map((app) => ({ ...app, name: 'web' })),
    port: fc.integer({ min: 0, max: 65_535 }),
    memoryMB: fc.nat(4096),
    condition: fc.dictionary(fc.string(), fc.string()),
  },
  { requiredKeys: ['replication', 'content'] },
);

const validNodeReport = fc.record({
  appmesh: fc.webUrl(),
  label: fc.dictionary(fc.string(), fc.string()),
  leader: fc.boolean(),
  resource: fc.record({ cpu_cores: fc.nat(64), mem_total_bytes: fc.nat(), mem_free_bytes: fc.nat() }),
  apps: fc.dictionary(fc.string(), jsonValue),
  version: fc.string(),
});

const roundTrips = (value: unknown) => JSON.parse(JSON.stringify(value)) as unknown;

function rightOf<A>(result: Either<DecodeError, A>): A {
  if (isLeft(result)) throw new Error(`expected a valid value: ${result.left.message}`);
  return result.right;
}

function checkRoundTrip<A, O>(
  name: string,
  codec: t.Type<A, O, unknown>,
  valid: fc.Arbitrary<unknown>,
): void {
  fc.assert(
    fc.property(valid, (value) => {
      const first = rightOf(decode(codec, value, name));
      expect(rightOf(decode(codec, roundTrips(first), name)), name).to.deep.equal(first);
    }),
    RUNS,
  );
}

function nested(depth: number, leaf: unknown): unknown {
  let value = leaf;
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? { a: value } : [value];
  return value;
}

describe('decoders (property-based)', function () {
  this.timeout(30_000);

  it('never throw on arbitrary values, and report each problem as one bounded line with a path', function () {
    fc.assert(fc.property(fc.anything(), checkAll), RUNS);
  });

  it('never throw on arbitrary JSON, including invalid JSON text', function () {
    fc.assert(
      fc.property(fc.oneof(fc.json(), fc.string()), fc.json(), (text, json) => {
        checkAll(JSON.parse(json));
        expectWellFormed('decodeClusterTaskJson', decodeClusterTaskJson(text, 'web', 'task'));
      }),
      RUNS,
    );
  });

  it('never throw on objects that are close to valid ones', function () {
    fc.assert(fc.property(nearlyValid, checkAll), RUNS);
  });

  it('report keys with newlines or of any length on one bounded line', function () {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 2000 }), (key) => {
        checkAll({
          name: 'web',
          command: 'x',
          [key]: 1,
          env: { [key]: 1 },
          behavior: { control: { [key]: 'restart' } },
        });
        checkAll({ replication: 1, content: { command: 'x' }, condition: { [key]: 1 } });
      }),
      RUNS,
    );
  });

  it('give back an accepted App spec unchanged after a JSON round trip', function () {
    fc.assert(
      fc.property(validApp, (app) => {
        const first = rightOf(decodeAppSpec(app, 'app')).spec;
        expect(rightOf(decodeAppSpec(roundTrips(first), 'app')).spec).to.deep.equal(first);
      }),
      RUNS,
    );
  });

  it('give back an accepted ClusterTask unchanged after a JSON round trip', function () {
    fc.assert(
      fc.property(validTask, (task) => {
        const first = rightOf(decodeClusterTask(task, 'web', 'task')).task;
        const again = rightOf(decodeClusterTaskJson(JSON.stringify(first), 'web', 'task')).task;
        expect(again).to.deep.equal(first);
      }),
      RUNS,
    );
  });

  it('give back accepted cluster records unchanged after a JSON round trip', function () {
    checkRoundTrip('NodeReport', NodeReport, validNodeReport);
    checkRoundTrip('LeaderRecord', LeaderRecord, fc.record({ node: validName, since: fc.string() }));
    checkRoundTrip(
      'NodeTopology',
      NodeTopology,
      fc.array(fc.record({ app: validName, schedule_time: fc.string() })),
    );
    checkRoundTrip(
      'TaskStatusRecord',
      TaskStatusRecord,
      fc.record(
        {
          desired: fc.nat(),
          scheduled: fc.nat(),
          nodes: fc.array(fc.string()),
          unschedulable: fc.nat(),
          reasons: fc.array(fc.string()),
          invalid: fc.string(),
        },
        { requiredKeys: ['desired', 'scheduled', 'nodes', 'unschedulable', 'reasons'] },
      ),
    );
  });

  describe('oversized input', function () {
    const huge = 'x'.repeat(1024 * 1024);

    it("accepts a command up to exec's 128 KiB limit, and reports a 1 MB value anywhere briefly", function () {
      const longest = 'x'.repeat(128 * 1024 - 1);
      expect(isRight(decodeAppSpec({ name: 'web', command: longest }, 'app'))).to.equal(true);
      for (const value of [
        { name: 'web', command: huge },
        { name: 'web', command: huge, port: huge, start_interval_seconds: huge, cron: true },
        { name: huge, command: 'x', [huge]: huge, env: { [huge]: 1 } },
        { replication: huge, content: { command: 42, status: huge }, condition: { [huge]: 1 } },
        huge,
      ]) {
        checkAll(value);
        const app = decodeAppSpec(value, 'app');
        expect(isLeft(app)).to.equal(true);
      }
      expectWellFormed('json', decodeClusterTaskJson(`{"replication": ${huge}`, 'web', 'task'));
      expectWellFormed('json', decodeClusterTaskJson(`"${huge}`, 'web', 'task'));
    });

    it('handles 10,000-element arrays', function () {
      const many = Array.from({ length: 10_000 }, (_v, i) => (i % 2 === 0 ? i : `tag-${i}`));
      checkAll(many);
      checkAll({ name: 'web', command: 'x', service: { tags: many } });
      checkAll({ desired: 1, scheduled: 1, nodes: many, unschedulable: 0, reasons: many });
      checkAll(Array.from({ length: 10_000 }, (_v, i) => ({ app: `t${i}`, schedule_time: i })));
      const topology = Array.from({ length: 10_000 }, (_v, i) => ({ app: `t${i}`, schedule_time: 'now' }));
      expect(isRight(decode(NodeTopology, topology, 'topology'))).to.equal(true);
    });

    it('handles values nested 1,000 levels deep, in every field and as JSON text', function () {
      const deep = nested(1000, 'leaf');
      checkAll(deep);
      checkAll({ name: 'web', command: 'x', env: deep, behavior: deep, service: deep });
      checkAll({ replication: 1, content: deep, condition: deep });
      const withMetadata = decodeAppSpec({ name: 'web', command: 'x', metadata: deep }, 'app');
      expect(isRight(withMetadata)).to.equal(true);
      const text = JSON.stringify({ replication: 1, content: { command: 'x', metadata: deep } });
      expect(isRight(decodeClusterTaskJson(text, 'web', 'task'))).to.equal(true);
      expectWellFormed('json', decodeClusterTaskJson('['.repeat(100_000), 'web', 'task'));
    });
  });

  describe('names', function () {
    const documented = /^[A-Za-z0-9_.-]{1,128}$/;
    const accepted = (name: string) => documented.test(name) && name !== '.' && name !== '..';
    const candidates = fc.oneof(
      fc.stringMatching(/^[A-Za-z0-9_.-]{1,130}$/),
      fc.string({ unit: 'binary', maxLength: 140 }),
      fc.constantFrom(
        '',
        '.',
        '..',
        '...',
        '.hidden',
        'a/b',
        '../etc',
        '/',
        'a b',
        'ü',
        'имя',
        '名前',
        'a\nb',
        'x'.repeat(128),
        'x'.repeat(129),
      ),
    );

    it('accept exactly the documented pattern, except "." and ".." (unsafe as key and path segments)', function () {
      fc.assert(
        fc.property(candidates, (name) => {
          const expected = accepted(name);
          expect(
            isRight(decodeAppSpec({ name, command: 'x' }, 'app')),
            `app ${JSON.stringify(name)}`,
          ).to.equal(expected);
          expect(
            isRight(decodeClusterTask({ replication: 1, content: { command: 'x' } }, name, 'task')),
            'task',
          ).to.equal(expected);
          expect(isRight(decode(LeaderRecord, { node: name, since: 'now' }, 'leader')), 'node').to.equal(
            expected,
          );
          expect(
            isRight(decode(NodeTopology, [{ app: name, schedule_time: 'now' }], 'topology')),
            'topology',
          ).to.equal(expected);
          checkAll({ name, command: 'x' });
        }),
        { numRuns: 500 },
      );
    });
  });
});
