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

/** An alive node and what is committed on it so far. */
interface NodeLedger {
  readonly node: SchedulableNode;
  /** Position in node-name order; indexes EligibleNodes.selects. */
  readonly index: number;
  /** By app. */
  readonly placements: Map<string, Placement>;
  readonly ports: Set<number>;
  committedMB: number;
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
  const ledgers = ledgersByNode(input.nodes);
  const eligible = eligibilityCache([...ledgers.values()]);
  const state = new ClusterState(ledgers, footprintLookup(input));
  const active = [...input.tasks.values()]
    .filter((task) => !input.frozen.has(task.name))
    .sort((a, b) => compareText(a.name, b.name));
  const eligibleFor = new Map(active.map((task) => [task.name, eligible(task.condition)]));

  keepStickyPlacements(input, state, (app) => eligibleFor.get(app));
  for (const task of active) dropSurplusReplicas(task, state);

  for (const task of active) {
    const nodes = eligibleFor.get(task.name) ?? eligible(task.condition);
    const missing = task.replication - state.replicasOf(task.name).length;
    for (const ledger of preferredNodes(task, nodes, missing)) {
      state.place(ledger, { app: task.name, schedule_time: input.now });
    }
  }
  // Reasons describe the final placements, not the moment the task's turn came, so scheduling the
  // result again reports the same status (a status written to KV is not rewritten for nothing).
  const status = new Map<string, TaskStatus>();
  for (const task of active) {
    status.set(task.name, statusOf(task, eligibleFor.get(task.name) ?? eligible(task.condition), state));
  }

  const topology = new Map<string, Placement[]>();
  for (const ledger of ledgers.values()) {
    topology.set(
      ledger.node.name,
      [...ledger.placements.values()].sort((a, b) => compareText(a.app, b.app)),
    );
  }
  return { topology, status };
}

const NO_REPLICAS: readonly NodeLedger[] = [];

/** The placements per node and per task, with each node's committed memory and ports kept in step. */
class ClusterState {
  /** A task runs at most once per node and has a handful of replicas: an array beats a Set here. */
  private readonly nodesOfTask = new Map<string, NodeLedger[]>();

  constructor(
    readonly ledgers: ReadonlyMap<string, NodeLedger>,
    readonly footprintOf: (app: string) => FrozenFootprint,
  ) {}

  replicasOf(app: string): readonly NodeLedger[] {
    return this.nodesOfTask.get(app) ?? NO_REPLICAS;
  }

  place(ledger: NodeLedger, placement: Placement): void {
    const { port, memoryMB } = this.footprintOf(placement.app);
    ledger.placements.set(placement.app, placement);
    ledger.committedMB += memoryMB;
    if (port) ledger.ports.add(port);
    const nodes = this.nodesOfTask.get(placement.app);
    if (nodes) nodes.push(ledger);
    else this.nodesOfTask.set(placement.app, [ledger]);
  }

  remove(ledger: NodeLedger, app: string): void {
    if (!ledger.placements.delete(app)) return;
    const { port, memoryMB } = this.footprintOf(app);
    ledger.committedMB -= memoryMB;
    // Safe: ports on a node are unique among kept placements (see withoutPortConflicts).
    if (port) ledger.ports.delete(port);
    const nodes = this.nodesOfTask.get(app);
    const at = nodes ? nodes.indexOf(ledger) : -1;
    if (at >= 0) nodes?.splice(at, 1);
  }
}

/** One ledger per alive node, in name order; a name listed twice keeps one entry, chosen by content. */
function ledgersByNode(nodes: readonly SchedulableNode[]): Map<string, NodeLedger> {
  const chosen = new Map<string, SchedulableNode>();
  for (const node of nodes) {
    const other = chosen.get(node.name);
    if (!other || compareText(canonicalNode(node), canonicalNode(other)) < 0) chosen.set(node.name, node);
  }
  const ledgers = new Map<string, NodeLedger>();
  for (const name of [...chosen.keys()].sort(compareText)) {
    const node = chosen.get(name);
    const index = ledgers.size;
    if (node) ledgers.set(name, { node, index, placements: new Map(), ports: new Set(), committedMB: 0 });
  }
  return ledgers;
}

function canonicalNode(node: SchedulableNode): string {
  return JSON.stringify([node.memTotalBytes, node.worker, sortedEntries(node.labels)]);
}

/**
 * Finds the eligible nodes of a condition, compiling and evaluating each distinct condition once.
 * Tasks often share one condition object, so its identity is looked up before its content.
 */
function eligibilityCache(ledgers: readonly NodeLedger[]): (condition: Condition) => EligibleNodes {
  const workers = ledgers.filter((ledger) => ledger.node.worker);
  const byContent = new Map<string, EligibleNodes>();
  const byObject = new Map<Condition, EligibleNodes>();
  return (condition) => {
    let found = byObject.get(condition);
    if (found) return found;
    const entries = sortedEntries(condition);
    const key = JSON.stringify(entries);
    found = byContent.get(key);
    if (!found) {
      const selector = compileSelector(condition);
      const matching = workers.filter((ledger) => selector(ledger.node.labels));
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
    byObject.set(condition, found);
    return found;
  };
}

function footprintLookup(input: ScheduleInput): (app: string) => FrozenFootprint {
  return (app) => {
    if (input.frozen.has(app)) return input.frozenFootprints?.get(app) ?? NO_FOOTPRINT;
    return input.tasks.get(app) ?? NO_FOOTPRINT; // a task is its own footprint: no copy per placement
  };
}

/**
 * Keeps each current placement whose node is alive and whose task is frozen, or valid and still
 * eligible there (`eligibleFor` knows only valid, unfrozen tasks), with its schedule_time. Memory is
 * not re-checked: a replica that runs stays rather than churn because a node's numbers changed.
 */
function keepStickyPlacements(
  input: ScheduleInput,
  state: ClusterState,
  eligibleFor: (app: string) => EligibleNodes | undefined,
): void {
  for (const [nodeName, placements] of input.topology) {
    const ledger = state.ledgers.get(nodeName);
    if (!ledger) continue; // dead node: its replicas are placed again elsewhere
    const kept = new Map<string, Placement>();
    for (const placement of placements) {
      const stays =
        input.frozen.has(placement.app) || eligibleFor(placement.app)?.selects[ledger.index] === 1;
      if (!stays) continue; // deleted task, or a node it no longer selects
      // A task listed twice on one node runs once; keep its older placement.
      const other = kept.get(placement.app);
      if (!other || placement.schedule_time < other.schedule_time) kept.set(placement.app, placement);
    }
    for (const placement of withoutPortConflicts([...kept.values()], input.frozen, state.footprintOf)) {
      state.place(ledger, { app: placement.app, schedule_time: placement.schedule_time });
    }
  }
}

/**
 * Drops placements whose port another placement on the same node already uses (after a task's port
 * was changed). Frozen tasks win, since they must stay untouched; then the older placement, then the
 * task name. The loser's replica is placed again elsewhere.
 */
function withoutPortConflicts(
  placements: readonly Placement[],
  frozen: ReadonlySet<string>,
  footprintOf: (app: string) => FrozenFootprint,
): readonly Placement[] {
  // The usual case, and the sort below is most of the cost of keeping a large topology.
  if (!sharesAPort(placements, footprintOf)) return placements;
  const byPrecedence = [...placements].sort(
    (a, b) =>
      Number(frozen.has(b.app)) - Number(frozen.has(a.app)) ||
      compareText(a.schedule_time, b.schedule_time) ||
      compareText(a.app, b.app),
  );
  const taken = new Set<number>();
  return byPrecedence.filter((placement) => {
    const { port } = footprintOf(placement.app);
    if (!port) return true;
    if (taken.has(port) && !frozen.has(placement.app)) return false;
    taken.add(port);
    return true;
  });
}

function sharesAPort(
  placements: readonly Placement[],
  footprintOf: (app: string) => FrozenFootprint,
): boolean {
  const ports = new Set<number>();
  for (const placement of placements) {
    const { port } = footprintOf(placement.app);
    if (!port) continue;
    if (ports.has(port)) return true;
    ports.add(port);
  }
  return false;
}

/** Removes replicas beyond the task's replication: from the fullest nodes first, the reverse of placement. */
function dropSurplusReplicas(task: TaskToPlace, state: ClusterState): void {
  const replicas = state.replicasOf(task.name);
  const surplus = replicas.length - task.replication;
  if (surplus <= 0) return;
  const hashSeed = taskHashSeed(task);
  // Removing a replica changes only its own node's ratio and count, so one sort orders all the drops.
  const fullestFirst = [...replicas].sort(
    (a, b) =>
      committedRatio(b, 0) - committedRatio(a, 0) ||
      b.placements.size - a.placements.size ||
      hashText(hashSeed, b.node.name) - hashText(hashSeed, a.node.name) ||
      compareText(b.node.name, a.node.name),
  );
  for (const ledger of fullestFirst.slice(0, surplus)) state.remove(ledger, task.name);
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
function preferredNodes(task: TaskToPlace, eligible: EligibleNodes, count: number): NodeLedger[] {
  if (count <= 0) return [];
  const hashSeed = taskHashSeed(task);
  const best: Candidate[] = []; // sorted, best first, at most `count`
  for (const ledger of eligible.ledgers) {
    if (lacksMemory(task, ledger)) continue;
    const ratio = committedRatio(ledger, task.memoryMB);
    const tasks = ledger.placements.size;
    const worst = best[best.length - 1];
    if (
      best.length === count &&
      worst &&
      (ratio > worst.ratio || (ratio === worst.ratio && tasks > worst.tasks))
    ) {
      continue; // cheap rejection, which most nodes of a large cluster reach, before lookups and hashing
    }
    // A node ruled out above could not have won even with room, so checking room after is equivalent.
    if (ledger.placements.has(task.name) || (task.port && ledger.ports.has(task.port))) continue;
    const candidate = { ledger, ratio, tasks, hash: hashText(hashSeed, ledger.node.name) };
    let at = best.length;
    while (at > 0 && precedes(candidate, best[at - 1])) at--;
    if (at < count) {
      best.splice(at, 0, candidate);
      if (best.length > count) best.pop();
    }
  }
  return best.map((candidate) => candidate.ledger);
}

function precedes(a: Candidate, b: Candidate | undefined): boolean {
  if (!b) return true;
  return (
    (a.ratio - b.ratio ||
      a.tasks - b.tasks ||
      a.hash - b.hash ||
      compareText(a.ledger.node.name, b.ledger.node.name)) < 0
  );
}

type Obstacle = 'replica' | 'port' | 'memory';

/** Why an eligible node cannot take one more replica of the task, or undefined if it can. */
function whyNodeCannotHost(task: TaskToPlace, ledger: NodeLedger): Obstacle | undefined {
  if (ledger.placements.has(task.name)) return 'replica';
  if (task.port && ledger.ports.has(task.port)) return 'port';
  if (lacksMemory(task, ledger)) return 'memory';
  return undefined;
}

function lacksMemory(task: TaskToPlace, ledger: NodeLedger): boolean {
  // A task without a memory requirement fits even on a node that sticky replicas overcommitted.
  return task.memoryMB > 0 && (ledger.committedMB + task.memoryMB) * BYTES_PER_MB > ledger.node.memTotalBytes;
}

/** Committed memory over the node's total after adding `extraMB`; a node reporting no memory is full. */
function committedRatio(ledger: NodeLedger, extraMB: number): number {
  const committedBytes = (ledger.committedMB + extraMB) * BYTES_PER_MB;
  if (ledger.node.memTotalBytes > 0) return committedBytes / ledger.node.memTotalBytes;
  return committedBytes > 0 ? Infinity : 0;
}

function statusOf(task: TaskToPlace, eligible: EligibleNodes, state: ClusterState): TaskStatus {
  const nodes = state
    .replicasOf(task.name)
    .map((ledger) => ledger.node.name)
    .sort(compareText);
  const unschedulable = Math.max(0, task.replication - nodes.length);
  const reasons = [...eligible.problems];
  if (unschedulable > 0) {
    reasons.push(
      `${plural(unschedulable, 'replica', 'replicas')} unschedulable: ${whyNoRoom(task, eligible)}`,
    );
  }
  return { desired: task.replication, scheduled: nodes.length, nodes, unschedulable, reasons };
}

/** E.g. `3 nodes match the condition, 1 lacks memory (needs 1024 MB, at most 512 MB free), ...`. */
function whyNoRoom(task: TaskToPlace, eligible: EligibleNodes): string {
  const total = eligible.ledgers.length;
  if (total === 0) {
    return eligible.conditionText === undefined
      ? 'no worker node is alive'
      : `no worker node matches condition ${eligible.conditionText}`;
  }
  const counts = { memory: 0, port: 0, replica: 0 };
  let mostFreeMB = -Infinity;
  for (const ledger of eligible.ledgers) {
    const obstacle = whyNodeCannotHost(task, ledger);
    if (obstacle === undefined) continue; // cannot happen after placement; counted nowhere if it did
    counts[obstacle]++;
    if (obstacle === 'memory') {
      mostFreeMB = Math.max(
        mostFreeMB,
        Math.floor(ledger.node.memTotalBytes / BYTES_PER_MB) - ledger.committedMB,
      );
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
      `${plural(counts.memory, 'lacks', 'lack')} memory (needs ${task.memoryMB} MB, at most ${free} MB free)`,
    );
  }
  if (counts.port > 0) parts.push(`${plural(counts.port, 'has', 'have')} port ${task.port} in use`);
  if (counts.replica > 0) parts.push(`${plural(counts.replica, 'already runs', 'already run')} a replica`);
  return parts.join(', ');
}

function plural(count: number, one: string, many: string): string {
  return `${count} ${count === 1 ? one : many}`;
}

const FNV_OFFSET = 0x811c9dc5;

/** The hash state after `${task}/`, so ranking a node for the task hashes only the node's name. */
function taskHashSeed(task: TaskToPlace): number {
  return hashText(FNV_OFFSET, `${task.name}/`);
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

function sortedEntries(record: Readonly<Record<string, string>>): [string, string][] {
  return Object.entries(record).sort(([a], [b]) => compareText(a, b));
}

/** Code-unit order: unlike localeCompare, the same on every host whatever its locale. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
