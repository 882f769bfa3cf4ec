// Property-based tests of `schedule()`: random tasks, nodes, existing topologies (dead nodes, deleted
// tasks, duplicates) and frozen sets; every result must satisfy the placement rules of
// ARCHITECTURE.md ("Scheduling semantics"), be a fixed point, and not depend on input order.
import { expect } from 'chai';
import fc from 'fast-check';
import {
  matchesSelector,
  schedule,
  type FrozenFootprint,
  type Placement,
  type ScheduleInput,
  type ScheduleResult,
  type SchedulableNode,
  type TaskToPlace,
} from '../../controllers/scheduler/placement.js';

const MB = 1024 ** 2;
const NOW = '2030-01-01T00:00:00.000Z';
const LATER = '2030-01-02T00:00:00.000Z';
const PAST = ['2025-01-01T00:00:00.000Z', '2025-01-01T00:05:00.000Z', '2025-01-01T00:10:00.000Z'];
const RUNS = { numRuns: 1000 };

const ALIVE_NAMES = ['n1', 'n2', 'n3', 'n4', 'n5'];
const DEAD_NAMES = ['dead1', 'dead2'];
const TASK_NAMES = ['t1', 't2', 't3', 't4', 't5'];
const LABELS = ['zone', 'arch', 'gpu'];
const LABEL_VALUES = ['a', 'b', 'eu-1', 'eu-2', 'x86_64'];
const PATTERNS = [...LABEL_VALUES, '*', 'eu-?', '/a|b/', '/eu-.*/', '/x86_\\d+/', '/(/', '/[a/', '//'];

const nodeArb = (name: string): fc.Arbitrary<SchedulableNode> =>
  fc.record({
    name: fc.constant(name),
    labels: fc.dictionary(fc.constantFrom(...LABELS), fc.constantFrom(...LABEL_VALUES)),
    memTotalBytes: fc.oneof(fc.constantFrom(0, 512 * MB, 1024 * MB, 4096 * MB), fc.nat(8192 * MB)),
    worker: fc.oneof(
      { arbitrary: fc.constant(true), weight: 4 },
      { arbitrary: fc.constant(false), weight: 1 },
    ),
  });

const taskArb = (name: string): fc.Arbitrary<TaskToPlace> =>
  fc.record({
    name: fc.constant(name),
    replication: fc.nat(5),
    memoryMB: fc.oneof(fc.constant(0), fc.nat(4096)),
    port: fc.constantFrom(undefined, 80, 443, 8080),
    condition: fc.dictionary(fc.constantFrom(...LABELS), fc.constantFrom(...PATTERNS), { maxKeys: 2 }),
  });

const placementArb: fc.Arbitrary<Placement> = fc.record({
  app: fc.constantFrom(...TASK_NAMES, 'deleted'),
  schedule_time: fc.constantFrom(...PAST),
});

/** A subset of `names`, each present with some probability. */
const subsetOf = (names: readonly string[]) => fc.subarray([...names]);

const scenarioArb = fc
  .record({
    aliveNames: subsetOf(ALIVE_NAMES),
    taskNames: subsetOf(TASK_NAMES),
    frozen: subsetOf([...TASK_NAMES, 'deleted']),
    footprints: fc.dictionary(
      fc.constantFrom(...TASK_NAMES, 'deleted'),
      fc.record({ port: fc.constantFrom(undefined, 80, 443), memoryMB: fc.nat(2048) }),
    ),
    topologyEntries: fc.array(
      fc.tuple(fc.constantFrom(...ALIVE_NAMES, ...DEAD_NAMES), fc.array(placementArb, { maxLength: 6 })),
      { maxLength: 7 },
    ),
  })
  .chain(({ aliveNames, taskNames, frozen, footprints, topologyEntries }) =>
    fc.record({
      nodes: fc.tuple(...aliveNames.map(nodeArb)),
      tasks: fc.tuple(...taskNames.map(taskArb)),
      frozen: fc.constant(frozen),
      footprints: fc.constant(footprints),
      topologyEntries: fc.constant(topologyEntries),
    }),
  )
  .map(({ nodes, tasks, frozen, footprints, topologyEntries }): ScheduleInput => ({
    nodes,
    tasks: new Map(tasks.map((task) => [task.name, task])),
    frozen: new Set(frozen),
    frozenFootprints: new Map(Object.entries(footprints) as [string, FrozenFootprint][]),
    // A node listed twice in the entries keeps its last list, as a Map built from KV would.
    topology: new Map(topologyEntries),
    now: NOW,
  }));

/** The port and memory a placement holds, as the scheduler sees them. */
function footprintOf(input: ScheduleInput, app: string): FrozenFootprint {
  if (input.frozen.has(app)) return input.frozenFootprints?.get(app) ?? { port: undefined, memoryMB: 0 };
  const task = input.tasks.get(app);
  return task ? { port: task.port, memoryMB: task.memoryMB } : { port: undefined, memoryMB: 0 };
}

function expectPlacementRules(input: ScheduleInput, result: ScheduleResult): void {
  const nodesByName = new Map(input.nodes.map((node) => [node.name, node]));
  const aliveNames = [...nodesByName.keys()].sort();
  expect([...result.topology.keys()], 'one entry per alive node, in name order').to.deep.equal(aliveNames);

  for (const [nodeName, placements] of result.topology) {
    const node = nodesByName.get(nodeName);
    if (!node) throw new Error(`placement on ${nodeName}, which is not alive`);
    const apps = placements.map((p) => p.app);
    expect(apps, `${nodeName}: one replica per task, sorted`).to.deep.equal([...new Set(apps)].sort());

    for (const placement of placements) {
      const { app } = placement;
      const frozen = input.frozen.has(app);
      expect(frozen || input.tasks.has(app), `${nodeName}: ${app} is a known task`).to.equal(true);
      if (frozen) {
        expect(placement.schedule_time, `frozen ${app} is never placed anew`).to.not.equal(NOW);
        continue;
      }
      const task = input.tasks.get(app);
      expect(node.worker, `${nodeName} runs ${app}, so it is a worker`).to.equal(true);
      expect(matchesSelector(task?.condition ?? {}, node.labels), `${nodeName} matches ${app}`).to.equal(
        true,
      );
    }

    const ports = new Map<number, string>();
    for (const { app } of placements) {
      const { port } = footprintOf(input, app);
      if (!port) continue;
      const other = ports.get(port);
      if (other !== undefined && !(input.frozen.has(app) && input.frozen.has(other))) {
        expect.fail(`${nodeName}: ${other} and ${app} share port ${port}`);
      }
      ports.set(port, app);
    }

    const fresh = placements.filter((p) => p.schedule_time === NOW && footprintOf(input, p.app).memoryMB > 0);
    if (fresh.length > 0) {
      const committedMB = placements.reduce((sum, p) => sum + footprintOf(input, p.app).memoryMB, 0);
      expect(committedMB * MB, `${nodeName}: new replicas fit its memory`).to.be.at.most(node.memTotalBytes);
    }
  }

  for (const task of input.tasks.values()) {
    const status = result.status.get(task.name);
    if (input.frozen.has(task.name)) {
      expect(status, `no status for frozen ${task.name}`).to.equal(undefined);
      continue;
    }
    if (!status) throw new Error(`no status for ${task.name}`);
    const onNodes = [...result.topology]
      .filter(([, placements]) => placements.some((p) => p.app === task.name))
      .map(([name]) => name);
    expect(status.nodes, `${task.name}: status lists its nodes`).to.deep.equal(onNodes);
    expect(status.desired).to.equal(task.replication);
    expect(status.scheduled).to.equal(onNodes.length).and.to.be.at.most(status.desired);
    expect(status.scheduled + status.unschedulable).to.equal(status.desired);
  }
  expect(result.status.size).to.equal([...input.tasks.keys()].filter((n) => !input.frozen.has(n)).length);
}

/** Frozen replicas on alive nodes stay exactly as they were (the older of duplicates). */
function expectFrozenUntouched(input: ScheduleInput, result: ScheduleResult): void {
  for (const [nodeName, placements] of input.topology) {
    const after = result.topology.get(nodeName);
    if (!after) continue;
    for (const app of new Set(placements.map((p) => p.app))) {
      if (!input.frozen.has(app)) continue;
      const oldest = placements
        .filter((p) => p.app === app)
        .map((p) => p.schedule_time)
        .sort()[0];
      expect(after.find((p) => p.app === app)?.schedule_time, `${nodeName}: frozen ${app} kept`).to.equal(
        oldest,
      );
    }
  }
}

/** A small deterministic shuffle, so a failing case replays from its seed. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const copy = [...items];
  let state = seed >>> 0 || 1;
  for (let i = copy.length - 1; i > 0; i--) {
    state = Math.imul(state ^ (state >>> 15), 0x2c1b3c6d) >>> 0;
    const j = state % (i + 1);
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}

function reordered(input: ScheduleInput, seed: number): ScheduleInput {
  return {
    ...input,
    nodes: shuffled(input.nodes, seed),
    tasks: new Map(shuffled([...input.tasks], seed + 1)),
    frozen: new Set(shuffled([...input.frozen], seed + 2)),
    frozenFootprints: new Map(shuffled([...(input.frozenFootprints ?? [])], seed + 3)),
    topology: new Map(
      shuffled([...input.topology], seed + 4).map(([name, placements]) => [
        name,
        shuffled(placements, seed + 5),
      ]),
    ),
  };
}

/** Maps as entry lists, so order is compared too. */
function comparable(result: ScheduleResult) {
  return { topology: [...result.topology], status: [...result.status] };
}

describe('schedule (property-based)', function () {
  this.timeout(30_000);

  it('always satisfies the placement rules and leaves frozen replicas untouched', function () {
    fc.assert(
      fc.property(scenarioArb, (input) => {
        const result = schedule(input);
        expectPlacementRules(input, result);
        expectFrozenUntouched(input, result);
      }),
      RUNS,
    );
  });

  it('is a fixed point: scheduling its own output changes nothing and keeps schedule_time', function () {
    fc.assert(
      fc.property(scenarioArb, (input) => {
        const first = schedule(input);
        const second = schedule({ ...input, topology: first.topology, now: LATER });
        expect(comparable(second)).to.deep.equal(comparable(first));
      }),
      RUNS,
    );
  });

  it('gives the same result whatever the order of its input', function () {
    fc.assert(
      fc.property(scenarioArb, fc.nat(), (input, seed) => {
        expect(comparable(schedule(reordered(input, seed)))).to.deep.equal(comparable(schedule(input)));
      }),
      RUNS,
    );
  });

  it('never throws on a node listed twice, and decides the same whatever the order', function () {
    const withDuplicates = fc
      .tuple(
        scenarioArb,
        fc.array(fc.constantFrom(...ALIVE_NAMES).chain(nodeArb), { maxLength: 3 }),
        fc.nat(),
      )
      .map(([input, extra, seed]) => ({ input: { ...input, nodes: [...input.nodes, ...extra] }, seed }));
    fc.assert(
      fc.property(withDuplicates, ({ input, seed }) => {
        const result = schedule(input);
        expect([...result.topology.keys()]).to.deep.equal(
          [...new Set(input.nodes.map((n) => n.name))].sort(),
        );
        expect(comparable(schedule(reordered(input, seed)))).to.deep.equal(comparable(result));
      }),
      RUNS,
    );
  });

  // Found by the fixed-point property: t3's reason was computed before t4 took the port, so the
  // first run said "lacks memory" and the second "port in use", rewriting the status once for nothing.
  it('gives reasons that describe the final placements', function () {
    const input: ScheduleInput = {
      nodes: [{ name: 'n1', labels: {}, memTotalBytes: 0, worker: true }],
      tasks: new Map([
        ['t3', { name: 't3', replication: 1, memoryMB: 1, port: 8080, condition: {} }],
        ['t4', { name: 't4', replication: 1, memoryMB: 0, port: 8080, condition: {} }],
      ]),
      frozen: new Set(),
      topology: new Map(),
      now: NOW,
    };
    const first = schedule(input);
    expect(first.status.get('t3')?.reasons).to.deep.equal([
      '1 replica unschedulable: 1 worker node is alive, 1 has port 8080 in use',
    ]);
    const second = schedule({ ...input, topology: first.topology, now: LATER });
    expect(comparable(second)).to.deep.equal(comparable(first));
  });
});
