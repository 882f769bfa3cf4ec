// schedule() on a seeded cluster of 3,000 tasks and 300 nodes, the size where its bookkeeping (indexes,
// lists sized once, sorts skipped on sorted input) matters. The results are pinned by a digest of their
// JSON, taken with the implementation before that bookkeeping was added, so a faster scheduler must give
// the same bytes; a deliberate change of placement rules updates the digests along with the rules.
import { createHash } from 'node:crypto';
import { expect } from 'chai';
import {
  schedule,
  type FrozenFootprint,
  type Placement,
  type ScheduleInput,
  type ScheduleResult,
  type SchedulableNode,
  type TaskToPlace,
} from '../../controllers/scheduler/placement.js';
import { pick, seededRandom, type Random } from '../fixtures/random.js';

const GB = 1024 ** 3;
const T0 = '2025-01-01T00:00:00.000Z';
const T1 = '2025-01-01T00:05:00.000Z';
const T2 = '2025-01-01T00:10:00.000Z';

function makeNodes(random: Random, count: number): SchedulableNode[] {
  return Array.from({ length: count }, (_, i) => {
    const name = `node-${String(i).padStart(3, '0')}`;
    return {
      name,
      labels: {
        HOST_NAME: name,
        arch: random() < 0.8 ? 'x86_64' : 'aarch64',
        zone: pick(random, ['zone-a', 'zone-b', 'zone-c']),
        ...(random() < 0.1 ? { gpu: pick(random, ['a100', 'h100']) } : {}),
      },
      memTotalBytes: pick(random, [0, 4, 8, 16, 32]) * GB,
      worker: random() < 0.95,
    };
  });
}

const CONDITIONS: readonly Readonly<Record<string, string>>[] = [
  { arch: 'x86_64' },
  { zone: 'zone-?' },
  { zone: 'zone-a', arch: 'x86_64' },
  { HOST_NAME: '/node-0[0-4][0-9]/' },
  { gpu: '*' },
  { gpu: 'h100', zone: 'zone-b' },
  { arch: '/(/' },
];

function makeTasks(random: Random, count: number): TaskToPlace[] {
  return Array.from({ length: count }, (_, i) => ({
    name: `task-${String(i).padStart(4, '0')}`,
    replication: Math.floor(random() * 6),
    memoryMB: random() < 0.01 ? 40_000 : pick(random, [0, 0, 128, 512, 1024, 4096]),
    port: random() < 0.2 ? 8000 + Math.floor(random() * 20) : undefined,
    condition: random() < 0.5 ? {} : { ...pick(random, CONDITIONS) },
  }));
}

function shuffled<T>(items: readonly T[], random: Random): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}

function digest(result: ScheduleResult): string {
  const json = JSON.stringify({ topology: [...result.topology], status: [...result.status] });
  return createHash('sha256').update(json).digest('hex');
}

/** A full placement from an empty topology. */
function firstInput(): ScheduleInput {
  const random = seededRandom(1234);
  const nodes = makeNodes(random, 300);
  const tasks = makeTasks(random, 3000);
  return {
    tasks: new Map(tasks.map((task) => [task.name, task])),
    frozen: new Set(),
    nodes,
    topology: new Map(),
    now: T0,
  };
}

/**
 * The next run after much has changed: tasks scaled up and down, moved to other ports and memory,
 * deleted, frozen (some with a footprint); a node dead, another relabeled; the topology listed out of
 * order, with a duplicate, a deleted task and a task that appears.
 */
function changedInput(first: ScheduleInput, placed: ScheduleResult): ScheduleInput {
  const random = seededRandom(99);
  const tasks = new Map<string, TaskToPlace>();
  const frozen = new Set<string>();
  const frozenFootprints = new Map<string, FrozenFootprint>();
  let i = 0;
  for (const task of first.tasks.values()) {
    i++;
    if (i % 101 === 0) continue; // deleted
    if (i % 97 === 0) {
      frozen.add(task.name);
      if (i % 2 === 0) frozenFootprints.set(task.name, { port: 8001, memoryMB: 512 });
    }
    if (i % 7 === 0) tasks.set(task.name, { ...task, replication: task.replication + (i % 3) - 1 });
    else if (i % 11 === 0) tasks.set(task.name, { ...task, port: 8000 + (i % 20) });
    else if (i % 13 === 0) tasks.set(task.name, { ...task, memoryMB: task.memoryMB * 2 });
    else tasks.set(task.name, task);
  }
  tasks.set('task-new', { name: 'task-new', replication: 3, memoryMB: 256, port: 8005, condition: {} });
  const nodes = first.nodes
    .filter((_, at) => at % 17 !== 0)
    .map((node, at) => (at === 5 ? { ...node, labels: { ...node.labels, zone: 'zone-z' } } : node));
  const entries = shuffled([...placed.topology], random).map(([name, placements]): [string, Placement[]] => [
    name,
    shuffled(placements, random),
  ]);
  const [firstEntry] = entries;
  if (firstEntry) {
    const [, placements] = firstEntry;
    const [duplicated] = placements;
    if (duplicated) placements.push({ ...duplicated, schedule_time: T0.replace('00:00', '00:01') });
    placements.push({ app: 'task-gone', schedule_time: T0 });
  }
  return { tasks, frozen, frozenFootprints, nodes, topology: new Map(entries), now: T1 };
}

describe('schedule on a large cluster', function () {
  this.timeout(30_000);

  it('places 3,000 tasks on 300 nodes as it always did', function () {
    expect(digest(schedule(firstInput()))).to.equal(
      '1b33b7b806828d4f4f5f979b24f177257f0f7630172fecb68754276d07740ff0',
    );
  });

  it('reconciles many changes at once as it always did, whatever the order of its input', function () {
    const first = firstInput();
    const changed = changedInput(first, schedule(first));
    const result = schedule(changed);
    expect(digest(result)).to.equal('6352e0b8c760eae05ef774610fa05cd7e49aaa1c9d0ea554e71010a2e067dbe6');

    const random = seededRandom(5);
    const reordered: ScheduleInput = {
      ...changed,
      tasks: new Map(shuffled([...changed.tasks], random)),
      nodes: shuffled(changed.nodes, random),
      topology: new Map(
        [...changed.topology].reverse().map(([name, placements]) => [name, [...placements].reverse()]),
      ),
    };
    expect(digest(schedule(reordered))).to.equal(digest(result));
  });

  it('keeps every placement, and its schedule_time, when run again on its own result', function () {
    const first = firstInput();
    const changed = changedInput(first, schedule(first));
    const result = schedule(changed);
    const again = schedule({ ...changed, topology: result.topology, now: T2 });
    expect(digest(again)).to.equal(digest(result));
  });
});
