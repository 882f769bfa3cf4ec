// The scheduler's placement algorithm: from the valid tasks, the alive nodes and the current topology,
// decide which node runs which replica (ARCHITECTURE.md, "Scheduling semantics"). Pure and deterministic,
// with no I/O and no clock (the caller passes `now`), so the Scheduler controller can run it on every reconcile.
import { compileSelector, type Condition } from './selectors.js';

export { compileSelector, matchesSelector, type CompiledSelector } from './selectors.js';

export interface SchedulableNode {
  readonly name: string;
  /** Includes HOST_NAME, arch, os_version and the user's labels. */
  readonly labels: Readonly<Record<string, string>>;
  readonly memTotalBytes: number;
  /** Only workers get replicas. */
  readonly worker: boolean;
}

export interface TaskToPlace {
  readonly name: string;
  readonly replication: number;
  /** 0 means no memory requirement. 1 MB = 2^20 bytes. */
  readonly memoryMB: number;
  readonly port: number | undefined;
  /** Label -> exact value, glob (`*`, `?`) or `/regex/`; see compileSelector. */
  readonly condition: Condition;
}

/** The same shape as a TopologyEntry in `cluster/topology/<node>`. */
export interface Placement {
  readonly app: string;
  readonly schedule_time: string;
}

/** Node name -> the placements on it. */
export type Topology = ReadonlyMap<string, readonly Placement[]>;

export interface TaskStatus {
  readonly desired: number;
  readonly scheduled: number;
  /** Sorted. */
  readonly nodes: readonly string[];
  readonly unschedulable: number;
  /** Why replicas could not be placed, and condition entries that can never match; deterministic. */
  readonly reasons: readonly string[];
}

/** What a frozen task's running replicas hold on their nodes (e.g. from its last valid spec). */
export interface FrozenFootprint {
  readonly port: number | undefined;
  readonly memoryMB: number;
}

export interface ScheduleInput {
  /** Valid tasks, keyed by their `name`. */
  readonly tasks: ReadonlyMap<string, TaskToPlace>;
  /**
   * Tasks whose KV value is currently invalid: their placements on alive nodes stay untouched, nothing
   * new is placed and no status is reported. A name both here and in `tasks` counts as frozen.
   */
  readonly frozen: ReadonlySet<string>;
  /**
   * Optional port and memory of frozen tasks, so their running replicas keep reserving them. A frozen
   * task missing here reserves no port and no memory.
   */
  readonly frozenFootprints?: ReadonlyMap<string, FrozenFootprint>;
  /** Alive nodes (their node key exists). */
  readonly nodes: readonly SchedulableNode[];
  /** Current placements; may mention dead nodes and deleted tasks. */
  readonly topology: Topology;
  /** ISO time recorded as the schedule_time of new placements only. */
  readonly now: string;
}

export interface ScheduleResult {
  /** One entry per alive node, in node-name order, placements sorted by app (empty if none). */
  readonly topology: Map<string, Placement[]>;
  /** One per task in `tasks` that is not frozen. */
  readonly status: Map<string, TaskStatus>;
}

const BYTES_PER_MB = 1024 * 1024;
const NO_FOOTPRINT: FrozenFootprint = { port: undefined, memoryMB: 0 };

// Performance: the controller schedules the whole cluster on every change (the benchmark: 10,000 tasks
// on 1,000 nodes, 30,000 placements), and the usual run keeps nearly every placement: its cost is a few
// small objects per placement and the garbage collection they cause. So names are looked up once, then
// nodes and apps are referred to by object and compared by integer; lists are allocated at their final
// size where it is known; sorts are skipped when the input is in order already (a KV listing, the
// previous result). And V8 keeps optimized code only while what it meets keeps its shape: objects get
// all their fields at construction whatever the input, lists are all made by sizedList, and the loop
// over a topology's placements is a function of its own (keepOnNode).

/** An alive node, with what it needs copied from its SchedulableNode, and what is committed on it. */
class NodeLedger {
  /** The result's list for this node; starts as the placements keepStickyPlacements kept. */
  placements: Placement[] = sizedList(0);
  /** The apps of the placements keepStickyPlacements kept, in their order, for listKeptNodes. */
  keptApps: AppLedger[] = sizedList(0);
  /** The rank of the app listed last in `placements`, or OUT_OF_ORDER once they need sorting by app. */
  lastRank = -1;
  committedMB = 0;
  readonly ports = new Set<number>();
  // The fields the constructor sets are declared, not defined: a defined field would hold undefined
  // first, and V8 would then store it as any value (boxed numbers included) instead of its own kind.
  declare readonly name: string;
  declare readonly labels: Readonly<Record<string, string>>;
  declare readonly memTotalBytes: number;
  declare readonly worker: boolean;
  /** Position in node-name order: comparing indexes compares names. */
  declare readonly index: number;

  constructor(node: SchedulableNode, index: number) {
    this.name = node.name;
    this.labels = node.labels;
    this.memTotalBytes = node.memTotalBytes;
    this.worker = node.worker;
    this.index = index;
  }
}

/** Greater than any app's rank, and small enough for V8 to keep lastRank an integer. */
const OUT_OF_ORDER = 2 ** 30 - 1;

const NO_NODES: readonly string[] = sizedList(0);

/**
 * An app the topology may mention: a valid, unfrozen task (TaskLedger) or a frozen one. It copies what
 * it needs from its task, so the code reading apps meets one shape of object however the caller built
 * its tasks (a task made by spreading another has a shape of its own).
 */
class AppLedger implements FrozenFootprint {
  /** The names of the nodes running a replica, in node order: the status's `nodes`. Replaced, not changed. */
  nodes: readonly string[] = NO_NODES;
  /** Position in app-name order among all apps: comparing ranks compares names. */
  rank = 0;
  // Declared, not defined, like NodeLedger's.
  declare readonly name: string;
  /** What each replica reserves on its node. */
  declare readonly port: number | undefined;
  declare readonly memoryMB: number;
  /** Undefined for a frozen task, which stays wherever it runs and gets nothing new. */
  declare readonly eligible: EligibleNodes | undefined;
  declare readonly frozen: boolean;

  constructor(name: string, { port, memoryMB }: FrozenFootprint, eligible: EligibleNodes | undefined) {
    this.name = name;
    this.port = port;
    this.memoryMB = memoryMB;
    this.eligible = eligible;
    this.frozen = eligible === undefined;
  }
}

/** A valid, unfrozen task with its eligible nodes. */
class TaskLedger extends AppLedger {
  declare readonly eligible: EligibleNodes;
  declare readonly replication: number;

  constructor(task: TaskToPlace, eligible: EligibleNodes) {
    super(task.name, task, eligible);
    this.replication = task.replication;
  }
}

/** The alive worker nodes one distinct condition selects, computed once and shared by its tasks. */
interface EligibleNodes {
  /** Sorted by node name. */
  readonly ledgers: readonly NodeLedger[];
  /** 1 at the index of each selected ledger: a membership test without hashing the node's name. */
  readonly selects: Uint8Array;
  readonly problems: readonly string[];
  /** `{}` selects every worker; the reasons say so instead of quoting an empty condition. */
  readonly conditionText: string | undefined;
}

/**
 * Places every task's replicas. Order of work, so the result depends on the input's content only:
 * 1. keep the placements that are still valid (sticky), so they reserve memory and ports first;
 * 2. drop replicas beyond each task's replication;
 * 3. place missing replicas task by task, in task-name order.
 */
export function schedule(input: ScheduleInput): ScheduleResult {
  const nodes = new NodeTable(input.nodes);
  const { active, all } = appLedgers(input, eligibilityCache(nodes.ledgers));
  keepStickyPlacements(input.topology, nodes, all);
  for (const app of active) dropSurplusReplicas(app, nodes);
  for (const app of active) placeMissingReplicas(app, nodes, input.now);
  // Reasons describe the final placements, not the moment the task's turn came, so scheduling the
  // result again reports the same status (a status written to KV is not rewritten for nothing).
  const status = new Map<string, TaskStatus>();
  for (const app of active) status.set(app.name, statusOf(app, nodes));
  return { topology: resultTopology(nodes), status };
}

/** The valid, unfrozen tasks, and all apps (frozen too), each in name order and ranked in the latter. */
function appLedgers(
  input: ScheduleInput,
  eligible: (condition: Condition) => EligibleNodes,
): { active: TaskLedger[]; all: AppLedger[] } {
  let active: TaskLedger[] = [];
  input.tasks.forEach((task) => {
    if (!input.frozen.has(task.name)) active.push(new TaskLedger(task, eligible(task.condition)));
  });
  // Tasks usually arrive in name order (a KV listing is sorted); checking is cheaper than sorting.
  if (!isSorted(active, byName)) active.sort(byName);
  if (active.some((app, at) => active[at + 1]?.name === app.name)) {
    // Only if `tasks` breaks its contract (a task under another name's key): the last one counts.
    active = active.filter((app, at) => active[at + 1]?.name !== app.name);
  }
  const frozen = [...input.frozen].map(
    (name) => new AppLedger(name, input.frozenFootprints?.get(name) ?? NO_FOOTPRINT, undefined),
  );
  const all = frozen.length === 0 ? active : [...active, ...frozen].sort(byName);
  all.forEach((app, rank) => (app.rank = rank));
  return { active, all };
}

function byName(a: AppLedger, b: AppLedger): number {
  return compareText(a.name, b.name);
}

/** One entry per alive node, in node order, with its placements sorted by app. */
function resultTopology(nodes: NodeTable): Map<string, Placement[]> {
  const topology = new Map<string, Placement[]>();
  for (const ledger of nodes.ledgers) {
    if (ledger.lastRank === OUT_OF_ORDER) ledger.placements.sort((a, b) => compareText(a.app, b.app));
    topology.set(ledger.name, ledger.placements);
  }
  return topology;
}

/** The alive nodes in name order; a name listed twice keeps one entry, chosen by content. */
class NodeTable {
  declare readonly ledgers: readonly NodeLedger[];
  /** By node index, for markReplicas; not on the ledgers, whose shape then stays the same all along. */
  declare private readonly marks: Int32Array;
  readonly byName = new Map<string, NodeLedger>();
  private stamp = 0;

  constructor(nodes: readonly SchedulableNode[]) {
    const chosen = new Map<string, SchedulableNode>();
    for (const node of nodes) {
      const other = chosen.get(node.name);
      if (!other || compareText(canonicalNode(node), canonicalNode(other)) < 0) chosen.set(node.name, node);
    }
    const ledgers: NodeLedger[] = [];
    for (const name of [...chosen.keys()].sort(compareText)) {
      const node = chosen.get(name);
      if (!node) continue;
      const ledger = new NodeLedger(node, ledgers.length);
      ledgers.push(ledger);
      this.byName.set(name, ledger);
    }
    this.ledgers = ledgers;
    this.marks = new Int32Array(ledgers.length);
  }

  /** The ledgers of the nodes running the app. */
  replicasOf(app: AppLedger): NodeLedger[] {
    const ledgers: NodeLedger[] = [];
    for (const name of app.nodes) {
      const ledger = this.byName.get(name);
      if (ledger) ledgers.push(ledger);
    }
    return ledgers;
  }

  /** Marks the nodes running the app, so a scan of many nodes tests "runs a replica" in one comparison. */
  markReplicas(app: AppLedger): number {
    const stamp = ++this.stamp;
    for (const name of app.nodes) {
      const ledger = this.byName.get(name);
      if (ledger) this.marks[ledger.index] = stamp;
    }
    return stamp;
  }

  /** Whether the node runs the app of the markReplicas call that returned `stamp`. */
  marked(ledger: NodeLedger, stamp: number): boolean {
    return this.marks[ledger.index] === stamp;
  }
}

function canonicalNode(node: SchedulableNode): string {
  return JSON.stringify([node.memTotalBytes, node.worker, sortedEntries(node.labels)]);
}

/**
 * A new array for `length` items, which the caller fills. The lists of nodes and placements here are
 * all made this way, whether allocated at their final size or grown, so V8 sees one kind of array
 * (holey, in its terms) in the code that reads them.
 */
function sizedList<T>(length: number): T[] {
  return new Array<T>(length);
}

/** Commits the memory and port of one more replica of the app on the node. */
function reserve(ledger: NodeLedger, app: AppLedger): void {
  const { port, memoryMB } = app;
  ledger.committedMB += memoryMB;
  if (port) ledger.ports.add(port);
}

function placeMissingReplicas(app: TaskLedger, nodes: NodeTable, now: string): void {
  const missing = app.replication - app.nodes.length;
  for (const ledger of preferredNodes(app, nodes, missing)) {
    place(ledger, app, { app: app.name, schedule_time: now });
  }
}

/** Adds a new placement to its node, and the node to its app's. */
function place(ledger: NodeLedger, app: AppLedger, placement: Placement): void {
  reserve(ledger, app);
  ledger.placements.push(placement);
  ledger.lastRank = app.rank >= ledger.lastRank ? app.rank : OUT_OF_ORDER;
  const names = sizedList<string>(app.nodes.length + 1);
  let at = 0;
  let inserted = false;
  for (const name of app.nodes) {
    if (!inserted && compareText(name, ledger.name) > 0) {
      names[at++] = ledger.name;
      inserted = true;
    }
    names[at++] = name;
  }
  if (!inserted) names[at] = ledger.name;
  app.nodes = names;
}

function remove(ledger: NodeLedger, app: AppLedger): void {
  const at = ledger.placements.findIndex((placement) => placement.app === app.name);
  if (at < 0) return;
  ledger.placements.splice(at, 1); // the rest stays in order
  const names = sizedList<string>(app.nodes.length - 1); // the app runs on the node once
  let kept = 0;
  for (const name of app.nodes) if (name !== ledger.name) names[kept++] = name;
  app.nodes = names;
  const { port, memoryMB } = app;
  ledger.committedMB -= memoryMB;
  // Safe: ports on a node are unique among kept placements (see withoutPortConflicts).
  if (port) ledger.ports.delete(port);
}

/**
 * Finds the eligible nodes of a condition, compiling and evaluating each distinct condition once.
 * Tasks often share one condition object, so its identity is looked up before its content.
 */
function eligibilityCache(ledgers: readonly NodeLedger[]): (condition: Condition) => EligibleNodes {
  const workers = ledgers.filter((ledger) => ledger.worker);
  const byContent = new Map<string, EligibleNodes>();
  const byObject = new Map<Condition, EligibleNodes>();
  return (condition) => {
    // Half the tasks of a large cluster have no condition, each its own `{}`: those skip sorting,
    // quoting and remembering the object.
    const empty = !hasOwnEntries(condition);
    let found = empty ? byContent.get('') : byObject.get(condition);
    if (found) return found;
    const entries = empty ? [] : sortedEntries(condition);
    const key = empty ? '' : JSON.stringify(entries);
    found = byContent.get(key);
    if (!found) {
      const selector = compileSelector(condition);
      const matching = workers.filter((ledger) => selector(ledger.labels));
      const selects = new Uint8Array(ledgers.length);
      for (const ledger of matching) selects[ledger.index] = 1;
      found = {
        ledgers: matching,
        selects,
        problems: selector.problems,
        conditionText: entries.length > 0 ? JSON.stringify(Object.fromEntries(entries)) : undefined,
      };
      byContent.set(key, found);
    }
    if (!empty) byObject.set(condition, found);
    return found;
  };
}

/** Whether Object.entries(record) would list anything, without building the list. */
function hasOwnEntries(record: object): boolean {
  for (const key in record) if (Object.hasOwn(record, key)) return true;
  return false;
}

/** What keepStickyPlacements works with, by app rank and for the node at hand. */
class StickyPass {
  readonly apps = new Map<string, AppLedger>();
  /** By app rank: 1 + the index of the node where the app was last kept, and its position there. */
  declare readonly lastKeptOn: Int32Array;
  declare readonly keptAt: Int32Array;
  /** By app rank: how many nodes kept the app. */
  declare readonly keptCounts: Int32Array;
  /** By node index: 1 once the topology listed the node. */
  declare readonly listed: Uint8Array;
  /** The apps and placements kept on the node at hand (see keepOnNode); reused. */
  readonly onNode: AppLedger[] = [];
  readonly fromNode: Placement[] = [];
  readonly ports = new Set<number>();

  constructor(appCount: number, nodeCount: number) {
    this.lastKeptOn = new Int32Array(appCount);
    this.keptAt = new Int32Array(appCount);
    this.keptCounts = new Int32Array(appCount);
    this.listed = new Uint8Array(nodeCount);
  }
}

/**
 * Keeps each current placement whose node is alive and whose task is frozen, or valid and still
 * eligible there, with its schedule_time. Memory is not re-checked: a replica that runs stays rather
 * than churn because a node's numbers changed. Gives every node its kept placements and every app its
 * nodes even without a topology, so their fields are written the same way on every run.
 */
function keepStickyPlacements(topology: Topology, nodes: NodeTable, apps: readonly AppLedger[]): void {
  const pass = new StickyPass(apps.length, nodes.ledgers.length);
  // Only a topology needs the apps by name: a first placement (50,000 tasks?) skips the map.
  if (topology.size > 0) apps.forEach((app) => pass.apps.set(app.name, app));
  topology.forEach((placements, nodeName) => {
    const ledger = nodes.byName.get(nodeName);
    if (ledger) keepOnNode(ledger, placements, pass); // else a dead node: its replicas move
  });
  nodes.ledgers.forEach((ledger) => {
    if (pass.listed[ledger.index] === 1) return;
    ledger.placements = sizedList(0);
    ledger.keptApps = sizedList(0);
    ledger.lastRank = -1;
  });
  listKeptNodes(nodes, apps, pass.keptCounts);
}

/**
 * The hot loop of a large topology. Written with indexes rather than iterators, as its first runs
 * happen before V8 optimizes it, in the interpreter.
 */
function keepOnNode(ledger: NodeLedger, placements: readonly Placement[], pass: StickyPass): void {
  const { apps, onNode, fromNode, lastKeptOn, keptAt } = pass;
  const { index } = ledger;
  const nodeMark = index + 1;
  let count = 0; // of onNode and fromNode: kept at their longest, as truncating frees their storage
  for (let i = 0; i < placements.length; i++) {
    const placement = placements[i];
    const app = placement && apps.get(placement.app);
    if (!placement || !app || (!app.frozen && app.eligible?.selects[index] !== 1)) {
      continue; // deleted task, or a node it no longer selects
    }
    if (lastKeptOn[app.rank] === nodeMark) {
      // A task listed twice on one node runs once; keep its older placement.
      const at = keptAt[app.rank] ?? 0;
      const other = fromNode[at];
      if (other && placement.schedule_time < other.schedule_time) fromNode[at] = placement;
      continue;
    }
    lastKeptOn[app.rank] = nodeMark;
    keptAt[app.rank] = count;
    onNode[count] = app;
    fromNode[count] = placement;
    count++;
  }
  pass.ports.clear();
  if (sharesAPort(onNode, count, pass.ports)) count = withoutPortConflicts(onNode, fromNode, count);
  const kept = sizedList<Placement>(count);
  const keptApps = sizedList<AppLedger>(count);
  let lastRank = -1;
  for (let at = 0; at < count; at++) {
    const app = onNode[at];
    const from = fromNode[at];
    if (!app || !from) continue;
    reserve(ledger, app);
    pass.keptCounts[app.rank] = (pass.keptCounts[app.rank] ?? 0) + 1;
    kept[at] = { app: from.app, schedule_time: from.schedule_time };
    keptApps[at] = app;
    lastRank = app.rank >= lastRank ? app.rank : OUT_OF_ORDER;
  }
  ledger.placements = kept;
  ledger.keptApps = keptApps;
  ledger.lastRank = lastRank;
  pass.listed[ledger.index] = 1;
}

/**
 * Gives every app the names of the nodes that kept it, in node order, in an array allocated at its
 * size: pushing would allocate room for 17 names per app, and copy as it grows.
 */
function listKeptNodes(nodes: NodeTable, apps: readonly AppLedger[], counts: Int32Array): void {
  const lists = apps.map((app) => sizedList<string>(counts[app.rank] ?? 0));
  const filled = new Int32Array(apps.length);
  nodes.ledgers.forEach(({ name, keptApps }) => {
    for (let i = 0; i < keptApps.length; i++) {
      const rank = keptApps[i]?.rank ?? 0;
      const at = filled[rank] ?? 0;
      const list = lists[rank];
      if (list) list[at] = name;
      filled[rank] = at + 1;
    }
  });
  apps.forEach((app, rank) => (app.nodes = lists[rank] ?? NO_NODES));
}

/** Whether two of the first `count` apps use one port; `seen` is an empty set to work in. */
function sharesAPort(apps: readonly AppLedger[], count: number, seen: Set<number>): boolean {
  for (let at = 0; at < count; at++) {
    const port = apps[at]?.port;
    if (!port) continue;
    if (seen.has(port)) return true;
    seen.add(port);
  }
  return false;
}

/**
 * Drops placements whose port another placement on the same node already uses (after a task's port
 * was changed), in place: `apps[i]` runs as `placements[i]` on one node, for i below `count`; returns
 * how many stay. Frozen tasks win, since they must stay untouched; then the older placement, then the
 * task name. The loser's replica is placed again elsewhere.
 */
function withoutPortConflicts(apps: AppLedger[], placements: Placement[], count: number): number {
  const byPrecedence: { app: AppLedger; placement: Placement }[] = [];
  for (let at = 0; at < count; at++) {
    const app = apps[at];
    const placement = placements[at];
    if (app && placement) byPrecedence.push({ app, placement });
  }
  byPrecedence.sort(
    (a, b) =>
      Number(b.app.frozen) - Number(a.app.frozen) ||
      compareText(a.placement.schedule_time, b.placement.schedule_time) ||
      compareText(a.app.name, b.app.name),
  );
  const taken = new Set<number>();
  let staying = 0;
  for (const { app, placement } of byPrecedence) {
    const { port } = app;
    if (port) {
      if (taken.has(port) && !app.frozen) continue;
      taken.add(port);
    }
    apps[staying] = app;
    placements[staying] = placement;
    staying++;
  }
  return staying;
}

/** Removes replicas beyond the task's replication: from the fullest nodes first, the reverse of placement. */
function dropSurplusReplicas(app: TaskLedger, nodes: NodeTable): void {
  const surplus = app.nodes.length - app.replication;
  if (surplus <= 0) return;
  const hashSeed = taskHashSeed(app.name);
  // Removing a replica changes only its own node's ratio and count, so one sort orders all the drops.
  const fullestFirst = nodes
    .replicasOf(app)
    .sort(
      (a, b) =>
        committedRatio(b, 0) - committedRatio(a, 0) ||
        b.placements.length - a.placements.length ||
        hashText(hashSeed, b.name) - hashText(hashSeed, a.name) ||
        b.index - a.index,
    );
  for (const ledger of fullestFirst.slice(0, surplus)) remove(ledger, app);
}

interface Candidate {
  readonly ledger: NodeLedger;
  readonly ratio: number;
  readonly tasks: number;
  readonly hash: number;
}

/**
 * The `count` best eligible nodes with room for one more replica of the task: lowest committed-memory
 * ratio after placement, then fewest tasks, then a stable hash of (task, node), then the node name.
 * Placing on a node changes only that node's key and rules it out for this task, so picking the `count`
 * smallest keys at once equals placing one replica at a time.
 */
function preferredNodes(app: TaskLedger, nodes: NodeTable, count: number): NodeLedger[] {
  if (count <= 0) return [];
  const hashSeed = taskHashSeed(app.name);
  const replicaMark = nodes.markReplicas(app);
  const best: Candidate[] = []; // sorted, best first, at most `count`
  for (const ledger of app.eligible.ledgers) {
    if (lacksMemory(app, ledger)) continue;
    const ratio = committedRatio(ledger, app.memoryMB);
    const tasks = ledger.placements.length;
    const worst = best[best.length - 1];
    if (
      best.length === count &&
      worst &&
      (ratio > worst.ratio || (ratio === worst.ratio && tasks > worst.tasks))
    ) {
      continue; // cheap rejection, which most nodes of a large cluster reach, before lookups and hashing
    }
    // A node ruled out above could not have won even with room, so checking room after is equivalent.
    if (nodes.marked(ledger, replicaMark) || (app.port && ledger.ports.has(app.port))) continue;
    const candidate = { ledger, ratio, tasks, hash: hashText(hashSeed, ledger.name) };
    let at = best.length;
    while (at > 0 && precedes(candidate, best[at - 1])) at--;
    if (at < count) {
      // By hand: splice would allocate an array, of what it removed (nothing), for each insertion.
      for (let to = best.length; to > at; to--) {
        const moved = best[to - 1];
        if (moved) best[to] = moved;
      }
      best[at] = candidate;
      if (best.length > count) best.pop();
    }
  }
  return best.map((candidate) => candidate.ledger);
}

function precedes(a: Candidate, b: Candidate | undefined): boolean {
  if (!b) return true;
  return (a.ratio - b.ratio || a.tasks - b.tasks || a.hash - b.hash || a.ledger.index - b.ledger.index) < 0;
}

type Obstacle = 'replica' | 'port' | 'memory';

/** Why an eligible node cannot take one more replica of the task, or undefined if it can. */
function whyNodeCannotHost(
  app: TaskLedger,
  ledger: NodeLedger,
  nodes: NodeTable,
  replicaMark: number,
): Obstacle | undefined {
  if (nodes.marked(ledger, replicaMark)) return 'replica';
  if (app.port && ledger.ports.has(app.port)) return 'port';
  if (lacksMemory(app, ledger)) return 'memory';
  return undefined;
}

function lacksMemory({ memoryMB }: TaskLedger, ledger: NodeLedger): boolean {
  // A task without a memory requirement fits even on a node that sticky replicas overcommitted.
  return memoryMB > 0 && (ledger.committedMB + memoryMB) * BYTES_PER_MB > ledger.memTotalBytes;
}

/** Committed memory over the node's total after adding `extraMB`; a node reporting no memory is full. */
function committedRatio(ledger: NodeLedger, extraMB: number): number {
  const committedBytes = (ledger.committedMB + extraMB) * BYTES_PER_MB;
  if (ledger.memTotalBytes > 0) return committedBytes / ledger.memTotalBytes;
  return committedBytes > 0 ? Infinity : 0;
}

function statusOf(app: TaskLedger, nodes: NodeTable): TaskStatus {
  const { replication, nodes: names } = app;
  const unschedulable = Math.max(0, replication - names.length);
  const reasons = [...app.eligible.problems];
  if (unschedulable > 0) {
    reasons.push(`${plural(unschedulable, 'replica', 'replicas')} unschedulable: ${whyNoRoom(app, nodes)}`);
  }
  return { desired: replication, scheduled: names.length, nodes: names, unschedulable, reasons };
}

/** E.g. `3 nodes match the condition, 1 lacks memory (needs 1024 MB, at most 512 MB free), ...`. */
function whyNoRoom(app: TaskLedger, nodes: NodeTable): string {
  const { eligible } = app;
  const total = eligible.ledgers.length;
  if (total === 0) {
    return eligible.conditionText === undefined
      ? 'no worker node is alive'
      : `no worker node matches condition ${eligible.conditionText}`;
  }
  const replicaMark = nodes.markReplicas(app);
  const counts = { memory: 0, port: 0, replica: 0 };
  let mostFreeMB = -Infinity;
  for (const ledger of eligible.ledgers) {
    const obstacle = whyNodeCannotHost(app, ledger, nodes, replicaMark);
    if (obstacle === undefined) continue; // cannot happen after placement; counted nowhere if it did
    counts[obstacle]++;
    if (obstacle === 'memory') {
      mostFreeMB = Math.max(mostFreeMB, Math.floor(ledger.memTotalBytes / BYTES_PER_MB) - ledger.committedMB);
    }
  }
  const parts = [
    eligible.conditionText === undefined
      ? `${plural(total, 'worker node is', 'worker nodes are')} alive`
      : `${plural(total, 'node matches', 'nodes match')} the condition`,
  ];
  if (counts.memory > 0) {
    const free = Math.max(0, mostFreeMB);
    parts.push(
      `${plural(counts.memory, 'lacks', 'lack')} memory (needs ${app.memoryMB} MB, at most ${free} MB free)`,
    );
  }
  if (counts.port > 0) parts.push(`${plural(counts.port, 'has', 'have')} port ${app.port} in use`);
  if (counts.replica > 0) parts.push(`${plural(counts.replica, 'already runs', 'already run')} a replica`);
  return parts.join(', ');
}

function plural(count: number, one: string, many: string): string {
  return `${count} ${count === 1 ? one : many}`;
}

const FNV_OFFSET = 0x811c9dc5;

/** The hash state after `${task}/`, so ranking a node for the task hashes only the node's name. */
function taskHashSeed(taskName: string): number {
  return hashText(FNV_OFFSET, `${taskName}/`);
}

/**
 * FNV-1a (32 bit) of `text`, continued from `seed`. Nodes are ranked by the hash of `${task}/${node}`,
 * which spreads each task's replicas over equal nodes in its own order, the same on every leader and
 * every run; FNV runs left to right, so hashing the node's name from the task's seed gives that hash.
 */
function hashText(seed: number, text: string): number {
  let hash = seed;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * Whether sorting `items` would leave them as they are (Array.prototype.sort is stable). Sorting an
 * array allocates even when it is sorted already, which the scheduler's large inputs mostly are.
 */
function isSorted<T>(items: readonly T[], compare: (a: T, b: T) => number): boolean {
  for (let at = 1; at < items.length; at++) {
    const before = items[at - 1];
    const item = items[at];
    if (before !== undefined && item !== undefined && compare(before, item) > 0) return false;
  }
  return true;
}

function sortedEntries(record: Readonly<Record<string, string>>): [string, string][] {
  return Object.entries(record).sort(([a], [b]) => compareText(a, b));
}

/** Code-unit order: unlike localeCompare, the same on every host whatever its locale. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
