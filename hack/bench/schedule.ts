// Benchmark: the scheduler's pure placement on a large synthetic cluster (10,000 tasks x 1,000 nodes by
// default). Times a full placement from an empty topology, then the incremental run after one task's
// replication grows by one. Numbers are printed, not asserted; the input is seeded, so runs compare.
// Run: node .build-sched/hack/bench/schedule.js [tasks] [nodes]   (or from dist/ after a build)
import { performance } from 'node:perf_hooks';
import {
  schedule,
  type ScheduleResult,
  type SchedulableNode,
  type TaskToPlace,
} from '../../controllers/scheduler/placement.js';

const TASKS = Number(process.argv[2] ?? 10_000);
const NODES = Number(process.argv[3] ?? 1_000);
const GB = 1024 ** 3;

/** mulberry32: a seeded generator, so every run schedules the same cluster. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = seededRandom(42);
function pick<T>(choices: readonly T[]): T {
  const choice = choices[Math.floor(random() * choices.length)];
  if (choice === undefined) throw new Error('pick() needs at least one choice');
  return choice;
}

function makeNodes(count: number): SchedulableNode[] {
  return Array.from({ length: count }, (_, i) => {
    const name = `node-${String(i).padStart(4, '0')}`;
    return {
      name,
      labels: {
        HOST_NAME: name,
        arch: random() < 0.8 ? 'x86_64' : 'aarch64',
        os_version: pick(['ubuntu-20.04', 'ubuntu-22.04', 'ubuntu-24.04', 'rhel-9.4']),
        zone: pick(['zone-a', 'zone-b', 'zone-c', 'zone-d']),
        ...(random() < 0.1 ? { gpu: pick(['a100', 'h100']) } : {}),
      },
      memTotalBytes: pick([8, 16, 32, 64, 128]) * GB,
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

function makeTasks(count: number): Map<string, TaskToPlace> {
  const tasks = new Map<string, TaskToPlace>();
  for (let i = 0; i < count; i++) {
    const name = `task-${String(i).padStart(5, '0')}`;
    tasks.set(name, {
      name,
      replication: 1 + Math.floor(random() * 5),
      memoryMB: random() < 0.002 ? 98_304 : pick([0, 0, 128, 256, 512, 1024, 2048, 4096]),
      port: random() < 0.2 ? 8000 + Math.floor(random() * 50) : undefined,
      condition: random() < 0.5 ? {} : pick(CONDITIONS),
    });
  }
  return tasks;
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

const nodes = makeNodes(NODES);
const tasks = makeTasks(TASKS);
const desiredReplicas = [...tasks.values()].reduce((sum, task) => sum + task.replication, 0);

const full = timed(() =>
  schedule({ tasks, frozen: new Set(), nodes, topology: new Map(), now: '2025-01-01T00:00:00.000Z' }),
);

// Grow one task by a replica, as `appmesh apply` would, and schedule on top of the placed cluster.
const changedName = 'task-00000';
const changed = tasks.get(changedName);
if (!changed) throw new Error(`${changedName} is missing from the generated tasks`);
const grownTasks = new Map(tasks).set(changedName, { ...changed, replication: changed.replication + 1 });
const incremental = timed(() =>
  schedule({
    tasks: grownTasks,
    frozen: new Set(),
    nodes,
    topology: full.value.topology,
    now: '2025-01-01T00:05:00.000Z',
  }),
);

let movedOrAdded = 0;
for (const placements of incremental.value.topology.values()) {
  movedOrAdded += placements.filter((p) => p.schedule_time === '2025-01-01T00:05:00.000Z').length;
}

const fullCounts = counts(full.value);
const incrementalCounts = counts(incremental.value);
console.log(`schedule benchmark: ${tasks.size} tasks x ${nodes.length} nodes (node ${process.version})`);
console.log(`  desired replicas  ${desiredReplicas}`);
console.log(
  `  full placement    ${full.ms.toFixed(1)} ms  placed ${fullCounts.placed}  unschedulable ${fullCounts.unschedulable}`,
);
console.log(
  `  incremental       ${incremental.ms.toFixed(1)} ms  placed ${incrementalCounts.placed}  ` +
    `unschedulable ${incrementalCounts.unschedulable}  new placements ${movedOrAdded} (${changedName} replication ` +
    `${changed.replication} -> ${changed.replication + 1})`,
);
