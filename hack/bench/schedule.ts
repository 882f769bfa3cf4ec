// Benchmark: the scheduler's pure placement on synthetic clusters. Times a full placement from an empty
// topology for 1k/10k/50k tasks on 100/1,000/5,000 nodes (a growth table), then the incremental run after
// one task's replication grows by one on a placed 10k x 1k cluster, and the same runs once more right
// after (the JIT warmed, as in a controller that has been running). The input is seeded, so runs compare.
// Run: node dist/hack/bench/schedule.js   (after a build); writes bench/results/schedule.json.
import { performance } from 'node:perf_hooks';
import {
  schedule,
  type ScheduleResult,
  type SchedulableNode,
  type TaskToPlace,
} from '../../controllers/scheduler/placement.js';
import { writeResult } from './results.js';
import { pick, seededRandom, type Random } from '../../test/fixtures/random.js';

const TASK_COUNTS = [1_000, 10_000, 50_000] as const;
const NODE_COUNTS = [100, 1_000, 5_000] as const;
/** A cell whose first run takes longer is measured once, which keeps the whole run within minutes. */
const SLOW_CELL_MS = 2_000;
const RUNS_PER_CELL = 3;
const INCREMENTAL_RUNS = 7;
const GB = 1024 ** 3;
const FIRST_RUN = '2025-01-01T00:00:00.000Z';
const CHANGE_RUN = '2025-01-01T00:05:00.000Z';



function makeNodes(random: Random, count: number): SchedulableNode[] {
  return Array.from({ length: count }, (_, i) => {
    const name = `node-${String(i).padStart(4, '0')}`;
    return {
      name,
      labels: {
        HOST_NAME: name,
        arch: random() < 0.8 ? 'x86_64' : 'aarch64',
        os_version: pick(random, ['ubuntu-20.04', 'ubuntu-22.04', 'ubuntu-24.04', 'rhel-9.4']),
        zone: pick(random, ['zone-a', 'zone-b', 'zone-c', 'zone-d']),
        ...(random() < 0.1 ? { gpu: pick(random, ['a100', 'h100']) } : {}),
      },
      memTotalBytes: pick(random, [8, 16, 32, 64, 128]) * GB,
      worker: random() < 0.97,
    };
  });
}

const CONDITIONS: readonly Readonly<Record<string, string>>[] = [
  { arch: 'x86_64' },
  { arch: 'aarch64' },
  { zone: 'zone-?' },
  { zone: 'zone-a', arch: 'x86_64' },
  { HOST_NAME: 'node-0*' },
  { HOST_NAME: '/node-0[0-4][0-9]{2}/' },
  { os_version: '/ubuntu-2[24]\\.04/' },
  { os_version: 'rhel-*', zone: '/zone-[ab]/' },
  { gpu: '*' },
  { gpu: 'h100', arch: 'x86_64' },
  { gpu: 'h100', os_version: 'rhel-*' }, // a handful of nodes: ports and memory run out there
];

function makeTasks(random: Random, count: number): Map<string, TaskToPlace> {
  const tasks = new Map<string, TaskToPlace>();
  for (let i = 0; i < count; i++) {
    const name = `task-${String(i).padStart(5, '0')}`;
    tasks.set(name, {
      name,
      replication: 1 + Math.floor(random() * 5),
      memoryMB: random() < 0.002 ? 98_304 : pick(random, [0, 0, 128, 256, 512, 1024, 2048, 4096]),
      port: random() < 0.2 ? 8000 + Math.floor(random() * 50) : undefined,
      condition: random() < 0.5 ? {} : pick(random, CONDITIONS),
    });
  }
  return tasks;
}

/** The nodes, then the tasks, from seed 42: the cell 10k x 1k is the cluster earlier versions measured. */
function syntheticCluster(
  taskCount: number,
  nodeCount: number,
): { nodes: SchedulableNode[]; tasks: Map<string, TaskToPlace> } {
  const random = seededRandom(42);
  const nodes = makeNodes(random, nodeCount);
  return { nodes, tasks: makeTasks(random, taskCount) };
}

function counts(result: ScheduleResult): { placed: number; unschedulable: number } {
  let placed = 0;
  let unschedulable = 0;
  for (const status of result.status.values()) {
    placed += status.scheduled;
    unschedulable += status.unschedulable;
  }
  return { placed, unschedulable };
}

function timed<T>(work: () => T): { value: T; ms: number } {
  const started = performance.now();
  const value = work();
  return { value, ms: performance.now() - started };
}

function median(samples: readonly number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  const upper = sorted[middle] ?? NaN;
  return sorted.length % 2 === 1 ? upper : ((sorted[middle - 1] ?? NaN) + upper) / 2;
}

const round = (ms: number): number => Math.round(ms * 10) / 10;

interface GrowthCell {
  readonly tasks: number;
  readonly nodes: number;
  /** Median of `runs` full placements. */
  readonly ms: number;
  readonly runs: number;
  readonly placed: number;
  readonly unschedulable: number;
}

/** Full placements from an empty topology: once if the first is slow, else RUNS_PER_CELL times. */
function measureFullPlacement(
  taskCount: number,
  nodeCount: number,
): { cell: GrowthCell; result: ScheduleResult } {
  const { nodes, tasks } = syntheticCluster(taskCount, nodeCount);
  const place = () => schedule({ tasks, frozen: new Set(), nodes, topology: new Map(), now: FIRST_RUN });
  const first = timed(place);
  const samples = [first.ms];
  while (first.ms <= SLOW_CELL_MS && samples.length < RUNS_PER_CELL) samples.push(timed(place).ms);
  const { placed, unschedulable } = counts(first.value);
  return {
    cell: {
      tasks: taskCount,
      nodes: nodeCount,
      ms: round(median(samples)),
      runs: samples.length,
      placed,
      unschedulable,
    },
    result: first.value,
  };
}

interface IncrementalFigure {
  /** Median of `samples`. */
  ms: number;
  samples: number[];
  newPlacements: number;
}

/**
 * Grows one task by a replica, as `appmesh apply` would, and schedules on top of the placed cluster:
 * INCREMENTAL_RUNS times (the figure), then as many times again (the warm figure).
 */
function measureIncrementalChange(placed: ScheduleResult): {
  cold: IncrementalFigure;
  warm: IncrementalFigure;
  change: string;
} {
  const { nodes, tasks } = syntheticCluster(10_000, 1_000);
  const changedName = 'task-00000';
  const changed = tasks.get(changedName);
  if (!changed) throw new Error(`${changedName} is missing from the generated tasks`);
  const grownTasks = new Map(tasks).set(changedName, { ...changed, replication: changed.replication + 1 });
  const measure = (): IncrementalFigure => {
    const samples: number[] = [];
    let result: ScheduleResult | undefined;
    for (let run = 0; run < INCREMENTAL_RUNS; run++) {
      const { value, ms } = timed(() =>
        schedule({ tasks: grownTasks, frozen: new Set(), nodes, topology: placed.topology, now: CHANGE_RUN }),
      );
      samples.push(round(ms));
      result = value;
    }
    let newPlacements = 0;
    for (const placements of result?.topology.values() ?? []) {
      newPlacements += placements.filter((p) => p.schedule_time === CHANGE_RUN).length;
    }
    return { ms: round(median(samples)), samples, newPlacements };
  };
  const cold = measure();
  return {
    cold,
    warm: measure(),
    change: `${changedName} replication ${changed.replication} -> ${changed.replication + 1}`,
  };
}

console.log(`schedule benchmark (node ${process.version})`);
console.log('   tasks   nodes        ms  runs   placed  unschedulable');
const growth: GrowthCell[] = [];
let tenByOne: ScheduleResult | undefined;
for (const taskCount of TASK_COUNTS) {
  for (const nodeCount of NODE_COUNTS) {
    const { cell, result } = measureFullPlacement(taskCount, nodeCount);
    growth.push(cell);
    if (taskCount === 10_000 && nodeCount === 1_000) tenByOne = result;
    console.log(
      `${String(cell.tasks).padStart(8)}${String(cell.nodes).padStart(8)}${cell.ms.toFixed(1).padStart(10)}` +
        `${String(cell.runs).padStart(6)}${String(cell.placed).padStart(9)}${String(cell.unschedulable).padStart(15)}`,
    );
  }
}
if (!tenByOne)
  throw new Error('the growth table lacks the 10,000 x 1,000 cell the incremental run builds on');
const { cold: incremental, warm: incrementalWarm, change } = measureIncrementalChange(tenByOne);
for (const [label, figure] of [
  ['incremental', incremental],
  ['incremental, warm', incrementalWarm],
] as const) {
  console.log(
    `${label} (10000 x 1000, ${change}): median ${figure.ms.toFixed(1)} ms of ` +
      `[${figure.samples.join(', ')}], new placements ${figure.newPlacements}`,
  );
}

const path = await writeResult({
  name: 'schedule',
  command: 'node dist/hack/bench/schedule.js',
  figures: {
    growth,
    incremental,
    incrementalWarm,
  },
  notes: [
    `Full placement from an empty topology, seeded synthetic cluster (seed 42); ms is the median of ` +
      `${RUNS_PER_CELL} runs, or a single run for a cell whose first run took over ${SLOW_CELL_MS} ms ` +
      '(runs says which).',
    `Incremental: ${change} on the placed 10,000 x 1,000 cluster; ms is the median of ` +
      `${INCREMENTAL_RUNS} consecutive runs in one process, the first of which includes JIT warm-up.`,
    `Incremental, warm: the same change, the median of the ${INCREMENTAL_RUNS} runs right after those.`,
    'Wall-clock times of one process on the machine below; other work on the host adds noise.',
  ],
});
console.log(`wrote ${path}`);
