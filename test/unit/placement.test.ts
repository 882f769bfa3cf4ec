// The scheduler's placement algorithm on hand-built clusters: eligibility, one replica per node,
// stickiness and minimal churn, memory and port fit, spreading, frozen tasks, readable reasons for what
// cannot be placed, and the same answer whatever the order of the input.
import { expect } from 'chai';
import {
  schedule,
  type FrozenFootprint,
  type Placement,
  type ScheduleResult,
  type SchedulableNode,
  type TaskToPlace,
  type Topology,
} from '../../controllers/scheduler/placement.js';
import { seededRandom } from '../fixtures/random.js';

const GB = 1024 ** 3;
const MB = 1024 ** 2;
const T0 = '2025-01-01T00:00:00.000Z';
const T1 = '2025-01-01T00:05:00.000Z';
const T2 = '2025-01-01T00:10:00.000Z';

function node(
  name: string,
  options: { labels?: Record<string, string>; memTotalBytes?: number; worker?: boolean } = {},
): SchedulableNode {
  return {
    name,
    labels: { HOST_NAME: name, arch: 'x86_64', ...options.labels },
    memTotalBytes: options.memTotalBytes ?? 8 * GB,
    worker: options.worker ?? true,
  };
}

function task(name: string, options: Partial<Omit<TaskToPlace, 'name'>> = {}): TaskToPlace {
  return { name, replication: 1, memoryMB: 0, port: undefined, condition: {}, ...options };
}

interface Scenario {
  tasks: readonly TaskToPlace[];
  nodes: readonly SchedulableNode[];
  topology?: Topology | Record<string, readonly Placement[]>;
  frozen?: readonly string[];
  frozenFootprints?: Record<string, FrozenFootprint>;
  now?: string;
}

function run(scenario: Scenario): ScheduleResult {
  const topology =
    scenario.topology instanceof Map ? scenario.topology : new Map(Object.entries(scenario.topology ?? {}));
  return schedule({
    tasks: new Map(scenario.tasks.map((t) => [t.name, t])),
    frozen: new Set(scenario.frozen ?? []),
    frozenFootprints: new Map(Object.entries(scenario.frozenFootprints ?? {})),
    nodes: scenario.nodes,
    topology,
    now: scenario.now ?? T0,
  });
}

function placed(app: string, scheduleTime = T0): Placement {
  return { app, schedule_time: scheduleTime };
}

/** node -> the apps on it, for compact assertions. */
function appsByNode(result: ScheduleResult): Record<string, string[]> {
  return Object.fromEntries(
    [...result.topology].map(([name, placements]) => [name, placements.map((p) => p.app)]),
  );
}

function nodesOf(result: ScheduleResult, app: string): readonly string[] {
  return result.status.get(app)?.nodes ?? [];
}

function placementOf(result: ScheduleResult, nodeName: string, app: string): Placement | undefined {
  return result.topology.get(nodeName)?.find((p) => p.app === app);
}

const threeNodes = [node('n1'), node('n2'), node('n3')];

describe('schedule', function () {
  describe('eligibility', function () {
    it('places replicas only on workers whose labels match every condition entry', function () {
      const nodes = [
        node('web-1', { labels: { zone: 'a' } }),
        node('web-2', { labels: { zone: 'b' } }),
        node('db-1', { labels: { zone: 'a' } }),
        node('arm-1', { labels: { arch: 'aarch64', zone: 'a' } }),
      ];
      const result = run({
        nodes,
        tasks: [
          task('exact', { replication: 4, condition: { zone: 'a', arch: 'x86_64' } }),
          task('glob', { replication: 4, condition: { HOST_NAME: 'web-*' } }),
          task('regex', { replication: 4, condition: { HOST_NAME: '/(web|db)-1/' } }),
          task('missing', { replication: 1, condition: { gpu: '*' } }),
        ],
      });
      expect(nodesOf(result, 'exact')).to.deep.equal(['db-1', 'web-1']);
      expect(nodesOf(result, 'glob')).to.deep.equal(['web-1', 'web-2']);
      expect(nodesOf(result, 'regex')).to.deep.equal(['db-1', 'web-1']);
      expect(nodesOf(result, 'missing')).to.deep.equal([]);
      expect(result.status.get('missing')?.reasons).to.deep.equal([
        '1 replica unschedulable: no worker node matches condition {"gpu":"*"}',
      ]);
    });

    it('gives nothing to nodes that are not workers, and takes back what they ran', function () {
      const result = run({
        nodes: [node('main', { worker: false }), node('w1')],
        tasks: [task('app', { replication: 2 })],
        topology: { main: [placed('app')] },
      });
      expect(appsByNode(result)).to.deep.equal({ main: [], w1: ['app'] });
      expect(result.status.get('app')?.reasons).to.deep.equal([
        '1 replica unschedulable: 1 worker node is alive, 1 already runs a replica',
      ]);
    });

    it('reports an invalid regular expression instead of throwing, and places nothing for it', function () {
      const result = run({ nodes: threeNodes, tasks: [task('app', { condition: { HOST_NAME: '/[/' } })] });
      const reasons = result.status.get('app')?.reasons ?? [];
      expect(reasons).to.have.length(2);
      expect(reasons[0]).to.match(/^condition HOST_NAME: invalid regular expression \/\[\/ /);
      expect(reasons[1]).to.equal(
        '1 replica unschedulable: no worker node matches condition {"HOST_NAME":"/[/"}',
      );
      expect(result.status.get('app')).to.include({ desired: 1, scheduled: 0, unschedulable: 1 });
    });

    it('says when no worker is alive at all', function () {
      const result = run({ nodes: [], tasks: [task('app', { replication: 2 })] });
      expect(result.topology.size).to.equal(0);
      expect(result.status.get('app')?.reasons).to.deep.equal([
        '2 replicas unschedulable: no worker node is alive',
      ]);
    });
  });

  describe('replica counts', function () {
    it('runs at most one replica of a task per node', function () {
      const result = run({ nodes: threeNodes, tasks: [task('app', { replication: 5 })] });
      expect(result.status.get('app')).to.deep.equal({
        desired: 5,
        scheduled: 3,
        nodes: ['n1', 'n2', 'n3'],
        unschedulable: 2,
        reasons: ['2 replicas unschedulable: 3 worker nodes are alive, 3 already run a replica'],
      });
    });

    it('places nothing for replication 0 and removes what ran', function () {
      const result = run({
        nodes: threeNodes,
        tasks: [task('app', { replication: 0 })],
        topology: { n1: [placed('app')] },
      });
      expect(appsByNode(result)).to.deep.equal({ n1: [], n2: [], n3: [] });
      expect(result.status.get('app')).to.deep.equal({
        desired: 0,
        scheduled: 0,
        nodes: [],
        unschedulable: 0,
        reasons: [],
      });
    });

    it('adds replicas without moving or re-stamping the ones that run', function () {
      const before = run({ nodes: threeNodes, tasks: [task('app', { replication: 1 })], now: T0 });
      const [first] = nodesOf(before, 'app');
      const after = run({
        nodes: threeNodes,
        tasks: [task('app', { replication: 3 })],
        topology: before.topology,
        now: T1,
      });
      expect(nodesOf(after, 'app')).to.deep.equal(['n1', 'n2', 'n3']);
      for (const name of ['n1', 'n2', 'n3']) {
        expect(placementOf(after, name, 'app')?.schedule_time).to.equal(name === first ? T0 : T1);
      }
    });

    it('removes surplus replicas from the node with the highest committed-memory ratio first', function () {
      const result = run({
        nodes: threeNodes,
        tasks: [task('app', { replication: 2, memoryMB: 1024 }), task('big', { memoryMB: 4096 })],
        topology: { n1: [placed('app')], n2: [placed('app'), placed('big')], n3: [placed('app')] },
        now: T1,
      });
      expect(nodesOf(result, 'app')).to.deep.equal(['n1', 'n3']);
      expect(placementOf(result, 'n1', 'app')?.schedule_time).to.equal(T0);
      expect(placementOf(result, 'n3', 'app')?.schedule_time).to.equal(T0);
    });

    it('removes surplus replicas from the node running most tasks when memory ratios tie', function () {
      const result = run({
        nodes: threeNodes,
        tasks: [task('app', { replication: 2 }), task('sidecar')],
        topology: { n1: [placed('app')], n2: [placed('app')], n3: [placed('app'), placed('sidecar')] },
      });
      expect(nodesOf(result, 'app')).to.deep.equal(['n1', 'n2']);
    });

    it('keeps, when scaling down among equal nodes, the replicas it would have placed from scratch', function () {
      const nodes = ['a', 'b', 'c', 'd', 'e'].map((name) => node(name));
      const all = Object.fromEntries(nodes.map((n) => [n.name, [placed('app')]]));
      for (const replication of [1, 2, 3, 4]) {
        const scaledDown = run({ nodes, tasks: [task('app', { replication })], topology: all });
        const fromScratch = run({ nodes, tasks: [task('app', { replication })] });
        expect(nodesOf(scaledDown, 'app')).to.deep.equal(nodesOf(fromScratch, 'app'));
      }
    });
  });

  describe('stickiness', function () {
    it('leaves every placement alone when an unrelated, emptier node joins', function () {
      const tasks = [task('a', { replication: 2, memoryMB: 512 }), task('b', { memoryMB: 256 }), task('c')];
      const before = run({ nodes: threeNodes, tasks, now: T0 });
      const after = run({
        nodes: [...threeNodes, node('n4', { memTotalBytes: 64 * GB })],
        tasks,
        topology: before.topology,
        now: T1,
      });
      expect(after.topology.get('n4')).to.deep.equal([]);
      for (const name of ['n1', 'n2', 'n3'])
        expect(after.topology.get(name)).to.deep.equal(before.topology.get(name));
    });

    it('keeps a replica whose node has since become short of memory', function () {
      const result = run({
        nodes: [node('n1', { memTotalBytes: 1 * GB }), node('n2', { memTotalBytes: 64 * GB })],
        tasks: [task('app', { memoryMB: 4096 })],
        topology: { n1: [placed('app')] },
        now: T1,
      });
      expect(placementOf(result, 'n1', 'app')).to.deep.equal(placed('app', T0));
      expect(result.status.get('app')).to.include({ scheduled: 1, unschedulable: 0 });
    });

    it('moves the replicas of a node that died, and only those', function () {
      const tasks = [task('app', { replication: 2 })];
      const result = run({
        nodes: threeNodes,
        tasks,
        topology: { n1: [placed('app')], gone: [placed('app')] },
        now: T1,
      });
      expect(result.topology.has('gone')).to.be.false;
      expect(nodesOf(result, 'app')).to.have.length(2);
      expect(placementOf(result, 'n1', 'app')?.schedule_time).to.equal(T0);
      const moved = nodesOf(result, 'app').find((name) => name !== 'n1') ?? '';
      expect(placementOf(result, moved, 'app')?.schedule_time).to.equal(T1);
    });

    it('moves a replica off a node whose labels no longer match', function () {
      const result = run({
        nodes: [node('n1', { labels: { zone: 'b' } }), node('n2', { labels: { zone: 'a' } })],
        tasks: [task('app', { condition: { zone: 'a' } })],
        topology: { n1: [placed('app')] },
        now: T1,
      });
      expect(appsByNode(result)).to.deep.equal({ n1: [], n2: ['app'] });
      expect(placementOf(result, 'n2', 'app')?.schedule_time).to.equal(T1);
    });

    it('removes a deleted task from every node', function () {
      const result = run({
        nodes: threeNodes,
        tasks: [task('kept')],
        topology: { n1: [placed('deleted'), placed('kept')], n2: [placed('deleted')], n3: [] },
      });
      expect(appsByNode(result)).to.deep.equal({ n1: ['kept'], n2: [], n3: [] });
      expect([...result.status.keys()]).to.deep.equal(['kept']);
    });

    it('collapses a task listed twice on one node into its older placement', function () {
      const result = run({
        nodes: [node('n1')],
        tasks: [task('app')],
        topology: { n1: [placed('app', T1), placed('app', T0)] },
        now: T2,
      });
      expect(result.topology.get('n1')).to.deep.equal([placed('app', T0)]);
    });

    it('changes nothing when run again on its own result', function () {
      const tasks = [
        task('a', { replication: 2, memoryMB: 2048, port: 80 }),
        task('b', { replication: 3 }),
        task('c', { port: 80 }),
      ];
      const first = run({ nodes: threeNodes, tasks, now: T0 });
      const second = run({ nodes: threeNodes, tasks, topology: first.topology, now: T1 });
      expect(second).to.deep.equal(first);
    });
  });

  describe('memory', function () {
    it('prefers the node with the lowest committed-memory ratio after placement', function () {
      const result = run({
        nodes: [node('small', { memTotalBytes: 4 * GB }), node('large', { memTotalBytes: 16 * GB })],
        tasks: [task('app', { memoryMB: 2048 }), task('other', { memoryMB: 2048 })],
        topology: { large: [placed('other')] },
      });
      // small: 2 GB of 4 GB = 0.5 after placement; large: 4 GB of 16 GB = 0.25.
      expect(nodesOf(result, 'app')).to.deep.equal(['large']);
    });

    it('counts the memory of the other tasks on a node when checking fit', function () {
      const result = run({
        nodes: [node('n1', { memTotalBytes: 4 * GB }), node('n2', { memTotalBytes: 2 * GB })],
        tasks: [task('app', { memoryMB: 2048 }), task('resident', { memoryMB: 3072 })],
        topology: { n1: [placed('resident')] },
      });
      expect(nodesOf(result, 'app')).to.deep.equal(['n2']);
    });

    it('fits a replica that uses exactly the memory left', function () {
      const result = run({
        nodes: [node('n1', { memTotalBytes: 4096 * MB })],
        tasks: [task('app', { memoryMB: 1024 }), task('resident', { memoryMB: 3072 })],
        topology: { n1: [placed('resident')] },
      });
      expect(nodesOf(result, 'app')).to.deep.equal(['n1']);
    });

    it('reports a task that needs more memory than any node has as unschedulable', function () {
      const result = run({ nodes: threeNodes, tasks: [task('huge', { replication: 2, memoryMB: 65536 })] });
      expect(appsByNode(result)).to.deep.equal({ n1: [], n2: [], n3: [] });
      expect(result.status.get('huge')).to.deep.equal({
        desired: 2,
        scheduled: 0,
        nodes: [],
        unschedulable: 2,
        reasons: [
          '2 replicas unschedulable: 3 worker nodes are alive, 3 lack memory (needs 65536 MB, at most 8192 MB free)',
        ],
      });
    });

    it('places a task without a memory requirement even on an overcommitted node', function () {
      const result = run({
        nodes: [node('n1', { memTotalBytes: 1 * GB })],
        tasks: [task('app'), task('resident', { memoryMB: 4096 })],
        topology: { n1: [placed('resident')] },
      });
      expect(nodesOf(result, 'app')).to.deep.equal(['n1']);
    });

    it('fills the free memory of the cluster before reporting the rest unschedulable', function () {
      const nodes = [node('n1', { memTotalBytes: 2 * GB }), node('n2', { memTotalBytes: 2 * GB })];
      const tasks = ['t1', 't2', 't3', 't4', 't5'].map((name) => task(name, { memoryMB: 1024 }));
      const result = run({ nodes, tasks });
      expect(Object.values(appsByNode(result)).map((apps) => apps.length)).to.deep.equal([2, 2]);
      expect(result.status.get('t5')?.reasons).to.deep.equal([
        '1 replica unschedulable: 2 worker nodes are alive, 2 lack memory (needs 1024 MB, at most 0 MB free)',
      ]);
    });
  });

  describe('ports', function () {
    it('never puts two tasks with the same port on one node', function () {
      const result = run({
        nodes: [node('n1'), node('n2')],
        tasks: [
          task('a', { replication: 2, port: 6666 }),
          task('b', { port: 6666 }),
          task('c', { port: 7777 }),
        ],
      });
      expect(nodesOf(result, 'a')).to.deep.equal(['n1', 'n2']);
      expect(result.status.get('b')?.reasons).to.deep.equal([
        '1 replica unschedulable: 2 worker nodes are alive, 2 have port 6666 in use',
      ]);
      expect(nodesOf(result, 'c')).to.have.length(1);
    });

    it('moves the newer of two replicas whose ports collide after a port change', function () {
      const result = run({
        nodes: [node('n1'), node('n2')],
        tasks: [task('old', { port: 8080 }), task('changed', { port: 8080 })],
        topology: { n1: [placed('changed', T1), placed('old', T0)] },
        now: T2,
      });
      expect(appsByNode(result)).to.deep.equal({ n1: ['old'], n2: ['changed'] });
      expect(placementOf(result, 'n2', 'changed')?.schedule_time).to.equal(T2);
    });

    it('explains each node that could not take a replica', function () {
      const nodes = [
        node('tight', { labels: { role: 'web' }, memTotalBytes: 512 * MB }),
        node('busy', { labels: { role: 'web' } }),
        node('free', { labels: { role: 'web' } }),
        node('other', { labels: { role: 'db' } }),
      ];
      const result = run({
        nodes,
        tasks: [
          task('app', { replication: 3, memoryMB: 1024, port: 6666, condition: { role: 'web' } }),
          task('holder', { port: 6666 }),
        ],
        topology: { busy: [placed('holder')] },
      });
      expect(nodesOf(result, 'app')).to.deep.equal(['free']);
      expect(result.status.get('app')?.reasons).to.deep.equal([
        '2 replicas unschedulable: 3 nodes match the condition, 1 lacks memory (needs 1024 MB, at most 512 MB free), ' +
          '1 has port 6666 in use, 1 already runs a replica',
      ]);
    });
  });

  describe('frozen tasks', function () {
    it('keeps their placements on alive nodes, places nothing new and reports no status', function () {
      const result = run({
        nodes: [node('n1', { worker: false }), node('n2'), node('n3')],
        tasks: [],
        frozen: ['broken'],
        topology: { n1: [placed('broken')], n2: [placed('broken')], gone: [placed('broken')] },
        now: T1,
      });
      expect(result.topology.get('n1')).to.deep.equal([placed('broken', T0)]);
      expect(result.topology.get('n2')).to.deep.equal([placed('broken', T0)]);
      expect(result.topology.get('n3')).to.deep.equal([]);
      expect(result.status.size).to.equal(0);
    });

    it('treats a name that is both valid and frozen as frozen', function () {
      const result = run({
        nodes: threeNodes,
        tasks: [task('both', { replication: 3 })],
        frozen: ['both'],
        topology: { n1: [placed('both')] },
      });
      expect(appsByNode(result)).to.deep.equal({ n1: ['both'], n2: [], n3: [] });
      expect(result.status.has('both')).to.be.false;
    });

    it('reserves their port and memory for the replicas that keep running', function () {
      const result = run({
        nodes: [node('n1', { memTotalBytes: 4 * GB }), node('n2', { memTotalBytes: 4 * GB })],
        tasks: [task('web', { replication: 2, port: 6666 }), task('cache', { memoryMB: 2048 })],
        frozen: ['broken'],
        frozenFootprints: { broken: { port: 6666, memoryMB: 3072 } },
        topology: { n1: [placed('broken'), placed('web')] },
      });
      // The frozen task wins n1's port over the valid one, which moves to n2 and cannot place its second replica.
      expect(appsByNode(result)).to.deep.equal({ n1: ['broken'], n2: ['cache', 'web'] });
      expect(result.status.get('web')?.unschedulable).to.equal(1);
      expect(placementOf(result, 'n1', 'broken')?.schedule_time).to.equal(T0);
    });
  });

  describe('spreading', function () {
    it('puts 3 replicas on 3 different equal nodes', function () {
      const result = run({ nodes: threeNodes, tasks: [task('app', { replication: 3 })] });
      expect(appsByNode(result)).to.deep.equal({ n1: ['app'], n2: ['app'], n3: ['app'] });
    });

    it('spreads 6 single-replica tasks over 3 equal nodes 2-2-2', function () {
      const tasks = ['a', 'b', 'c', 'd', 'e', 'f'].map((name) => task(name));
      const result = run({ nodes: threeNodes, tasks });
      expect(Object.values(appsByNode(result)).map((apps) => apps.length)).to.deep.equal([2, 2, 2]);
    });

    it('spreads 6 tasks of equal memory 2-2-2 as well', function () {
      const tasks = ['a', 'b', 'c', 'd', 'e', 'f'].map((name) => task(name, { memoryMB: 512 }));
      const result = run({ nodes: threeNodes, tasks });
      expect(Object.values(appsByNode(result)).map((apps) => apps.length)).to.deep.equal([2, 2, 2]);
    });

    it('does not put every single-replica task on the same node when nodes are equal', function () {
      const nodes = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((name) => node(name));
      const firstNodes = new Set(
        ['t1', 't2', 't3', 't4', 't5', 't6', 't7', 't8'].map(
          (name) => nodesOf(run({ nodes, tasks: [task(name)] }), name)[0],
        ),
      );
      expect(firstNodes.size).to.be.greaterThan(2);
    });
  });

  describe('determinism', function () {
    it('gives the same result whatever the order of nodes, tasks and topology', function () {
      const random = seededRandom(7);
      const nodes = Array.from({ length: 12 }, (_, i) =>
        node(`n${i}`, {
          labels: { zone: `z${i % 3}`, tier: i % 2 ? 'fast' : 'slow' },
          memTotalBytes: (2 + (i % 4) * 2) * GB,
          worker: i !== 5,
        }),
      );
      const tasks = Array.from({ length: 30 }, (_, i) =>
        task(`t${i}`, {
          replication: i % 5,
          memoryMB: [0, 256, 1024, 3072][i % 4] ?? 0,
          port: i % 7 === 0 ? 9000 : undefined,
          condition: [{}, { zone: 'z1' }, { tier: 'f*' }, { HOST_NAME: '/n1?[0-9]/' }][i % 4] ?? {},
        }),
      );
      const earlier: Record<string, Placement[]> = {
        n1: [placed('t3'), placed('t8'), placed('gone')],
        n4: [placed('t3'), placed('t21'), placed('frozen')],
        dead: [placed('t1')],
      };
      const expected = run({ nodes, tasks, topology: earlier, frozen: ['frozen'], now: T1 });
      for (let round = 0; round < 20; round++) {
        const shuffledTopology = new Map(
          shuffle(Object.entries(earlier), random).map(([name, placements]) => [
            name,
            shuffle(placements, random),
          ]),
        );
        const result = run({
          nodes: shuffle(nodes, random),
          tasks: shuffle(tasks, random),
          topology: shuffledTopology,
          frozen: ['frozen'],
          now: T1,
        });
        expect(result).to.deep.equal(expected);
        expect([...result.topology.keys()]).to.deep.equal([...expected.topology.keys()]);
      }
    });

    it('counts a node listed twice once, whichever copy comes first', function () {
      const small = node('n1', { memTotalBytes: 1 * GB });
      const large = node('n1', { memTotalBytes: 16 * GB });
      const tasks = [task('app', { memoryMB: 2048 })];
      const forward = run({ nodes: [small, large], tasks });
      const backward = run({ nodes: [large, small], tasks });
      expect(forward).to.deep.equal(backward);
      expect(forward.topology.size).to.equal(1);
    });
  });
});

function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}
