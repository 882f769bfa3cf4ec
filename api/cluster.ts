// The cluster resources stored in Consul KV (App Mesh's Consul-mode layout): tasks, node reports,
// the leader record and per-node topology. See ARCHITECTURE.md for who writes which key.
import * as t from 'io-ts';
import { isLeft, left, right, type Either } from 'fp-ts/lib/Either.js';
import { decodeAppSpec, type AppSpec } from './app.js';
import { DecodeError, describeValue, reportErrors } from './decode.js';
import { NodeName, NonNegativeInt, Port, TaskName } from './names.js';
import { strictObject } from './strict.js';

/**
 * The fields of a task's app that scheduling needs, for callers that only peek at a task; the
 * controllers decode the full App spec with `decodeClusterTask`.
 */
export const TaskContent = t.intersection([
  t.type({ command: t.string }),
  t.partial({ name: t.string, shell: t.boolean, description: t.string }),
]);
export type TaskContent = t.TypeOf<typeof TaskContent>;

/**
 * A task's `port`: 1..65535, or 0 for none (App Mesh's "no port"), which with `dynamicPort: true` means
 * "give each replica a free port from its node's range".
 */
// Named `Port` so a bad value reads as before ("expected Port, got 70000"); 0 is the one addition.
export const TaskPort = new t.Type<Port | 0, number, unknown>(
  'Port',
  (u): u is Port | 0 => u === 0 || Port.is(u),
  (u, context) => (u === 0 || Port.is(u) ? t.success(u) : t.failure(u, context)),
  t.identity,
);

/**
 * Bounds on labels (a node's `label`) and on the conditions that match them (a task's `condition`), in
 * characters (UTF-16 code units). Nodes choose their own label values and the leader matches every
 * task's condition against every node, so each map is bounded where it is decoded: a longer key or
 * value, or more entries, is a decode error naming the entry, and the report or task is refused whole.
 */
export const MAX_LABEL_KEY_LENGTH = 128;
export const MAX_LABEL_VALUE_LENGTH = 256;
export const MAX_LABELS = 64;

const boundedString = (name: string, max: number) =>
  new t.Type<string, string, unknown>(
    name,
    (u): u is string => typeof u === 'string' && u.length <= max,
    (u, context) =>
      typeof u !== 'string'
        ? t.failure(u, context, `expected string, got ${describeValue(u)}`)
        : u.length <= max
          ? t.success(u)
          : t.failure(u, context, `expected ${name}, got ${u.length} characters`),
    t.identity,
  );

/** A map of label names to values (or patterns) within the bounds above; `what` names it in errors. */
const boundedLabelMap = (what: string) => {
  const keyName = `a ${what} name of at most ${MAX_LABEL_KEY_LENGTH} characters`;
  const values = t.record(
    t.string,
    boundedString(`a ${what} value of at most ${MAX_LABEL_VALUE_LENGTH} characters`, MAX_LABEL_VALUE_LENGTH),
  );
  const keyFits = (key: string) => key.length <= MAX_LABEL_KEY_LENGTH;
  return new t.Type<Record<string, string>, Record<string, string>, unknown>(
    `an object of ${what}s`,
    (u): u is Record<string, string> =>
      values.is(u) && Object.keys(u).length <= MAX_LABELS && Object.keys(u).every(keyFits),
    (u, context) => {
      if (!t.UnknownRecord.is(u)) return values.validate(u, context);
      const keys = Object.keys(u);
      if (keys.length > MAX_LABELS) {
        return t.failure(u, context, `expected at most ${MAX_LABELS} ${what}s, got ${keys.length}`);
      }
      // Checked here, not by a codec as the record's domain: io-ts drops keys its domain rejects
      // instead of reporting them.
      const longKeys: t.ValidationError[] = keys
        .filter((key) => !keyFits(key))
        .map((key) => ({
          value: key,
          context: t.appendContext(context, key, t.string, key),
          message: `expected ${keyName}, got ${key.length} characters`,
        }));
      const checked = values.validate(u, context);
      if (longKeys.length === 0) return checked;
      return t.failures(isLeft(checked) ? [...longKeys, ...checked.left] : longKeys);
    },
    t.identity,
  );
};

/** A node's `label`: see the bounds above. */
export const Labels = boundedLabelMap('label');
/** A task's `condition`: label name -> exact value, glob or `/regex/`, bounded like the labels. */
export const Condition = boundedLabelMap('condition');

/** `appmesh/cluster/tasks/<task>`. `condition` values are exact strings, globs, or `/regex/`. */
export const ClusterTask = t.intersection(
  [
    t.type({ replication: NonNegativeInt, content: TaskContent }),
    t.partial({
      port: TaskPort,
      dynamicPort: t.boolean,
      memoryMB: NonNegativeInt,
      condition: Condition,
    }),
  ],
  'ClusterTask',
);
export type ClusterTask = t.TypeOf<typeof ClusterTask>;

/** A decoded `appmesh/cluster/tasks/<task>`: the placement fields and the full App spec it runs. */
export interface ClusterTaskSpec {
  readonly replication: number;
  /** A fixed port; absent for none and for a dynamic port (see `dynamicPort`). */
  readonly port?: Port;
  /** Each replica gets a free port from its node's range, stable while it runs there. */
  readonly dynamicPort?: true;
  readonly memoryMB?: number;
  readonly condition?: Readonly<Record<string, string>>;
  /** Its `name` is the task's name. */
  readonly content: AppSpec;
}

export interface DecodedClusterTask {
  readonly task: ClusterTaskSpec;
  /** One line per accepted but ignored App Mesh field, e.g. `<subject>: content.docker_image: ...`. */
  readonly warnings: readonly string[];
}

/** Any object; its fields are checked by decodeAppSpec. Named for the error line users read. */
const AppContent = new t.Type<Record<string, unknown>>(
  'an App spec object',
  t.UnknownRecord.is,
  (u, context) => (t.UnknownRecord.is(u) ? t.success(u) : t.failure(u, context)),
  t.identity,
);

/** The top level of a ClusterTask: unknown fields are errors; `content` is checked by decodeAppSpec. */
const ClusterTaskFields = strictObject(
  'ClusterTask',
  { replication: NonNegativeInt, content: AppContent },
  {
    port: TaskPort,
    dynamicPort: t.boolean,
    memoryMB: NonNegativeInt,
    condition: Condition,
  },
);

/**
 * Decodes App Mesh's ClusterTask JSON. `content` is an App spec whose name is `taskName` (a different
 * `content.name` is an error); its problems are reported under `content.`. Every problem is reported
 * at once, each as `<subject>: <path>: <what is wrong>`.
 */
export function decodeClusterTask(
  value: unknown,
  taskName: string,
  subject: string,
): Either<DecodeError, DecodedClusterTask> {
  const fields = ClusterTaskFields.decode(value);
  const problems = isLeft(fields) ? reportErrors(fields.left) : [];
  const content = t.UnknownRecord.is(value) ? value['content'] : undefined;
  // Without an object there is no App spec to check; the top-level problems already say so.
  if (!AppContent.is(content)) return left(new DecodeError(subject, problems));
  const givenName = content['name'];
  if (givenName !== undefined && givenName !== taskName) {
    problems.push(
      `content.name: expected ${JSON.stringify(taskName)} (the task's name) or nothing, got ${describeValue(givenName)}`,
    );
  }
  const app = decodeAppSpec({ ...content, name: taskName }, subject);
  if (isLeft(app)) {
    problems.push(
      ...app.left.problems.map(
        (problem) => `content${problem.startsWith('(root)') ? problem.slice(6) : `.${problem}`}`,
      ),
    );
  }
  if (!isLeft(fields) && fields.right.dynamicPort === true && (fields.right.port ?? 0) !== 0) {
    problems.push(
      `dynamicPort: true needs port 0 or no port (the node picks it), got port ${fields.right.port}`,
    );
  }
  if (isLeft(fields) || isLeft(app) || problems.length > 0) return left(new DecodeError(subject, problems));
  const { port, dynamicPort, memoryMB, condition, replication } = fields.right;
  const task: ClusterTaskSpec = {
    replication,
    content: app.right.spec,
    // Port 0 is App Mesh's "no port": no PORT, no service, no conflicts.
    ...(port !== undefined && port !== 0 ? { port } : {}),
    ...(dynamicPort === true ? { dynamicPort } : {}),
    ...(memoryMB !== undefined ? { memoryMB } : {}),
    ...(condition !== undefined ? { condition } : {}),
  };
  // decodeAppSpec words its warnings `<subject>: <path>: ...`; the path lies under `content`.
  const warnings = app.right.warnings.map((line) =>
    line.startsWith(`${subject}: `) ? `${subject}: content.${line.slice(subject.length + 2)}` : line,
  );
  return right({ task, warnings });
}

/** Like decodeClusterTask, from a KV value's text; bad JSON is reported like any other problem. */
export function decodeClusterTaskJson(
  text: string | null,
  taskName: string,
  subject: string,
): Either<DecodeError, DecodedClusterTask> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text ?? '');
  } catch (err) {
    return left(new DecodeError(subject, [`(root): not valid JSON (${(err as Error).message})`]));
  }
  return decodeClusterTask(parsed, taskName, subject);
}

/** `appmesh/cluster/leader`, acquired with the leader's session. */
export const LeaderRecord = t.type({ node: NodeName, since: t.string }, 'LeaderRecord');
export type LeaderRecord = t.TypeOf<typeof LeaderRecord>;

/** `appmesh/cluster/topology/<node>`: the tasks placed on that node. */
export const TopologyEntry = t.type({ app: TaskName, schedule_time: t.string });
export type TopologyEntry = t.TypeOf<typeof TopologyEntry>;
export const NodeTopology = t.array(TopologyEntry, 'NodeTopology');
export type NodeTopology = t.TypeOf<typeof NodeTopology>;

/** A node's capacity as reported to the scheduler; memory is rounded (see host facts) so it rarely churns. */
export const NodeResource = t.type(
  { cpu_cores: t.number, mem_total_bytes: t.number, mem_free_bytes: t.number },
  'NodeResource',
);
export type NodeResource = t.TypeOf<typeof NodeResource>;

/**
 * `appmesh/cluster/nodes/<node>`, acquired with the node's session, so it vanishes when the node dies.
 * Extra fields (as App Mesh writes them) are tolerated; `apps` is a summary the scheduler does not interpret.
 */
export const NodeReport = t.intersection(
  [
    t.type({
      /** The agent's advertised URL. */
      appmesh: t.string,
      label: Labels,
      leader: t.boolean,
      resource: NodeResource,
      apps: t.record(t.string, t.unknown),
      version: t.string,
    }),
    /** `worker: false` keeps the scheduler from placing replicas on the node; absent means a worker. */
    t.partial({ worker: t.boolean }),
  ],
  'NodeReport',
);
export type NodeReport = t.TypeOf<typeof NodeReport>;

/**
 * `cluster/status/<task>`, written by the scheduler: the placement outcome of a valid task, or why it is
 * frozen. No timestamps, so an unchanged outcome serialises to the same value and is not rewritten.
 */
export const TaskStatusRecord = t.intersection(
  [
    t.type({
      desired: t.number,
      scheduled: t.number,
      /** Sorted. */
      nodes: t.readonlyArray(t.string),
      unschedulable: t.number,
      reasons: t.readonlyArray(t.string),
    }),
    /** Set while the task's KV value does not decode: the decode message; its placements are frozen. */
    t.partial({ invalid: t.string }),
  ],
  'TaskStatusRecord',
);
export type TaskStatusRecord = t.TypeOf<typeof TaskStatusRecord>;
