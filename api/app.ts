// The App spec: one supervised local application, with App Mesh's field names so its users' JSON works
// unchanged. Decoding rejects unknown fields (with their path), accepts App Mesh fields appmesh does not
// implement with a warning, and checks the fields that depend on each other (cron, durations, time window).
//
// Semantics the supervisor (src/process) implements:
// - Exit action (`behavior.exit`, overridden per exit code by `behavior.control`, e.g. {"0": "standby"}):
//   - `restart`: start again after a crash-loop backoff (1 s doubling to 300 s; a run of 60 s or more
//     resets it). The default for apps without `start_interval_seconds`.
//   - `standby`: stay down until enable/restart. For periodic apps it means "wait for the next scheduled
//     start", and it is their default. App Mesh users normally write the action explicitly anyway.
//   - `keepalive`: restart immediately, without backoff, but only when the run lasted 60 s or more;
//     a shorter run is a crash loop and gets the same backoff as `restart`.
//   - `remove`: after the exit the app goes to state `removed`; the supervisor reports it and the app's
//     owner deletes it. `retention` says how long a stopped or removed app's status is kept.
// - `start_time`/`end_time` and `daily_limitation` (local time, may wrap midnight) form the window the
//   app may run in: outside it the app waits, leaving it stops the app.
// - Defaults are not filled in here: a decoded spec stays the user's spec; see `appDefaults`.
import * as t from 'io-ts';
import { isLeft, left, right, type Either } from 'fp-ts/lib/Either.js';
import { createRequire } from 'node:module';
import type { CronExpressionParser as CronParser } from 'cron-parser';
import { DecodeError, describeValue, reportErrors } from './decode.js';
import { AppName, NonNegativeInt, Port } from './names.js';
import { strictObject } from './strict.js';

/**
 * cron-parser (with luxon, ~1 MiB of heap) is loaded on the first cron expression rather than with the
 * codecs: most agents never see one, and decoding stays synchronous (it is CommonJS, so require works).
 */
let cronParser: typeof CronParser | undefined;
function cron(): typeof CronParser {
  cronParser ??= (
    createRequire(import.meta.url)('cron-parser') as { CronExpressionParser: typeof CronParser }
  ).CronExpressionParser;
  return cronParser;
}

/**
 * Bounds on what a spec may ask for, enforced at decode time so a value that cannot run (or would take
 * the agent's memory or CPU) is a 400 naming its field, never a wedged or runaway supervisor.
 */
export const appBounds = {
  /** Per app; the agent-wide sum is capped separately (`maxTotalOutputBufferBytes`). */
  outputBufferLinesMax: 100_000,
  outputBufferBytesMax: 64 * 1024 * 1024,
  /** A periodic app starts at most once a second (also the finest cron: 6 fields, seconds first). */
  startIntervalSecondsMin: 1,
  healthCheckIntervalSecondsMin: 1,
  healthCheckIntervalSecondsMax: 86_400,
  healthCheckTimeoutSecondsMin: 0.1,
  healthCheckTimeoutSecondsMax: 3_600,
  stopTimeoutSecondsMax: 3_600,
  /**
   * Linux's MAX_ARG_STRLEN (32 pages = 131072 bytes with the terminating NUL): one argv or env string
   * ("KEY=VALUE") longer than this cannot be passed to exec at all.
   */
  processStringBytesMax: 131_071,
} as const;

/** Values the supervisor uses when the spec leaves a field out. */
export const appDefaults = {
  status: 1,
  outputBufferLines: 1000,
  outputBufferBytes: 1024 * 1024,
  stopTimeoutSeconds: 10,
  healthCheckIntervalSeconds: 10,
  healthCheckTimeoutSeconds: 5,
  serviceCheckIntervalSeconds: 10,
  serviceCheckTimeoutSeconds: 5,
  serviceDeregisterCriticalAfterSeconds: 60,
} as const;

export const ExitAction = t.keyof({ standby: null, restart: null, keepalive: null, remove: null });
export type ExitAction = t.TypeOf<typeof ExitAction>;

/** A plain (unbranded) value checked by `accept`, reported as `expected <name>`. */
function checked<A>(name: string, guard: (u: unknown) => u is A, accept: (a: A) => boolean): t.Type<A> {
  const is = (u: unknown): u is A => guard(u) && accept(u);
  return new t.Type<A>(name, is, (u, c) => (is(u) ? t.success(u) : t.failure(u, c)), t.identity);
}
const isNumber = (u: unknown): u is number => typeof u === 'number' && Number.isFinite(u);
const isString = (u: unknown): u is string => typeof u === 'string';
const isNumberOrString = (u: unknown): u is number | string => isNumber(u) || isString(u);

const NonEmptyString = checked('a non-empty string', isString, (s) => s.trim().length > 0);
// Strings that reach exec (argv, env, cwd, user): the OS cannot take a NUL inside one, and Node refuses
// such options without ever starting or failing the child, which once wedged the supervisor.
const hasNoNul = (s: string) => !s.includes('\0');
const NUL_MESSAGE = (value: string) =>
  `a NUL byte cannot be passed to a process; remove it from ${describeValue(value)}`;
/** `base`, plus no NUL byte inside, which gets its own message (the usual cause is an escaping bug). */
function withoutNul(base: t.Type<string>): t.Type<string> {
  return new t.Type<string>(
    base.name,
    (u): u is string => base.is(u) && hasNoNul(u),
    (u, context) => {
      const result = base.validate(u, context);
      if (isLeft(result) || hasNoNul(result.right)) return result;
      return t.failure(u, context, NUL_MESSAGE(result.right));
    },
    t.identity,
  );
}
const ProcessText = withoutNul(NonEmptyString);
const EnvValue = withoutNul(t.string);
const isEnvName = (s: string) => /^[^=\0]+$/.test(s);
const EnvValues = t.record(t.string, EnvValue);
/** io-ts's record drops keys its domain refuses; a bad variable name must be an error instead. */
const Env = new t.Type<Record<string, string>>(
  'Env',
  (u): u is Record<string, string> => EnvValues.is(u) && Object.keys(u).every(isEnvName),
  (u, context) => {
    const values = EnvValues.validate(u, context);
    if (isLeft(values)) return values;
    const bad = Object.keys(values.right).filter((key) => !isEnvName(key));
    if (bad.length === 0) return values;
    return t.failures(
      bad.map((key) => ({
        value: key,
        context: [...context, { key, type: t.string, actual: key }],
        message: `expected a variable name without "=" or NUL bytes, got ${describeValue(key)}`,
      })),
    );
  },
  t.identity,
);
/** A POSIX user name (as in /etc/passwd); the user must exist on the host that runs the app. */
const UserName = checked(
  'a user name such as "appuser" (letters, digits, _ . -, at most 32)',
  isString,
  (s) => /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/.test(s),
);
/** A number within [min, max]. */
const between = (min: number, max: number, unit = '') =>
  checked(`a number from ${min}${unit} to ${max}${unit}`, isNumber, (n) => n >= min && n <= max);
/** A whole number within [1, max]. */
const wholeUpTo = (max: number) =>
  checked(`a whole number from 1 to ${max}`, isNumber, (n) => Number.isInteger(n) && n >= 1 && n <= max);
const PositiveNumber = checked('a number > 0', isNumber, (n) => n > 0);
const Status = checked(
  '1 (enabled) | 0 (disabled)',
  (u): u is 0 | 1 => u === 0 || u === 1,
  () => true,
);

// ---- durations, date-times, times of day, cron: parsers shared with the supervisor ----

const ISO_NUMBER = String.raw`(\d+(?:[.,]\d+)?)`;
const ISO_DURATION = new RegExp(
  `^P(?=\\d|T\\d)(?:${ISO_NUMBER}Y)?(?:${ISO_NUMBER}M)?(?:${ISO_NUMBER}W)?(?:${ISO_NUMBER}D)?` +
    `(?:T(?=\\d)(?:${ISO_NUMBER}H)?(?:${ISO_NUMBER}M)?(?:${ISO_NUMBER}S)?)?$`,
  'i',
);
// Calendar units have no fixed length; App Mesh approximates them the same way.
const ISO_UNIT_SECONDS = [365 * 86400, 30 * 86400, 7 * 86400, 86400, 3600, 60, 1];

/**
 * Seconds in a duration written as a number of seconds, a numeric string ("30") or an ISO-8601
 * duration ("PT30S", "P1DT2H", "P5W"; a year counts 365 days, a month 30). Undefined if it is none.
 */
export function durationSeconds(value: number | string): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text);
  const match = ISO_DURATION.exec(text);
  if (!match) return undefined;
  let total = 0;
  ISO_UNIT_SECONDS.forEach((unit, i) => {
    const amount = match[i + 1];
    if (amount !== undefined) total += Number(amount.replace(',', '.')) * unit;
  });
  return total;
}

const DATE_TIME = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * Milliseconds since the epoch for an ISO-8601 date-time ("2026-03-01T09:00:00+08:00"; no offset means
 * local time; App Mesh's short "+08" offset is accepted) or a number of seconds since the epoch.
 */
export function parseDateTime(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value * 1000 : undefined;
  const text = value.trim();
  if (!DATE_TIME.test(text)) return undefined;
  // Date.parse wants "+08:00", not "+08" or "+0800".
  const normalised = text.replace(/([+-]\d{2})(\d{2})?$/, (_m, h: string, m?: string) => `${h}:${m ?? '00'}`);
  const ms = Date.parse(/[+-]\d{2}:\d{2}$/.test(normalised) ? normalised : text);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Seconds since local midnight for "HH:MM" or "HH:MM:SS"; undefined if malformed. */
export function parseTimeOfDay(value: string): number | undefined {
  const match = /^([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$/.exec(value.trim());
  if (!match) return undefined;
  return Number(match[1]) * 3600 + Number(match[2]) * 60 + Number(match[3] ?? 0);
}

/** Why `expression` is not a usable 5- or 6-field cron expression (or an @alias), or undefined if it is. */
export function cronProblem(expression: string): string | undefined {
  const fields = expression.trim().split(/\s+/);
  const alias = fields.length === 1 && fields[0]?.startsWith('@') === true;
  if (!alias && fields.length !== 5 && fields.length !== 6) {
    return `a cron expression has 5 fields (minute hour day month weekday) or 6 (seconds first), not ${fields.length}`;
  }
  try {
    cron().parse(expression.trim()).next();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** The first time strictly after `afterMs` that the cron expression names (local time), if any. */
export function nextCronTime(expression: string, afterMs: number): number | undefined {
  try {
    return cron()
      .parse(expression.trim(), { currentDate: new Date(afterMs) })
      .next()
      .getTime();
  } catch {
    return undefined;
  }
}

const Duration = checked(
  'seconds or an ISO-8601 duration such as "PT30S"',
  isNumberOrString,
  (v) => durationSeconds(v) !== undefined,
);
const DateTime = checked(
  'an ISO-8601 date-time such as "2026-03-01T09:00:00Z" (or seconds since the epoch)',
  isNumberOrString,
  (v) => parseDateTime(v) !== undefined,
);
const TimeOfDay = checked(
  'a time of day "HH:MM" or "HH:MM:SS"',
  isString,
  (s) => parseTimeOfDay(s) !== undefined,
);
const IntervalOrCron = checked(
  'seconds, an ISO-8601 duration or (with cron: true) a cron expression',
  isNumberOrString,
  () => true,
);

/** App Mesh resource limits we do not enforce; accepted with a warning. */
const UNSUPPORTED_RESOURCE_LIMITS = new Set(['memory_virt_mb', 'cpu_shares']);

const DailyLimitation = strictObject('DailyLimitation', { daily_start: TimeOfDay, daily_end: TimeOfDay }, {});
const ResourceLimit = strictObject('ResourceLimit', {}, { memory_mb: PositiveNumber }, (key) =>
  UNSUPPORTED_RESOURCE_LIMITS.has(key),
);
const Behavior = strictObject('Behavior', {}, { exit: ExitAction, control: t.record(t.string, ExitAction) });

// A DNS label, so `<name>.service.consul` resolves; Consul itself would accept more.
const ServiceName = checked('a DNS label (letters, digits and "-", at most 63)', isString, (s) =>
  /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(s),
);
export const ServiceCheckKind = t.keyof({ http: null, tcp: null }, 'ServiceCheckKind');
export type ServiceCheckKind = t.TypeOf<typeof ServiceCheckKind>;
/**
 * How an app with a port appears in Consul (cluster mode): its service name (default the app's name),
 * extra tags, and its check: `http` asks the agent's /appmesh/app/<name>/health (the default), `tcp`
 * connects to the port. Durations are seconds or ISO-8601, like the other durations of the spec.
 */
const ServiceSettings = strictObject(
  'ServiceSettings',
  {},
  {
    name: ServiceName,
    tags: t.array(NonEmptyString),
    check: ServiceCheckKind,
    interval: Duration,
    timeout: Duration,
    deregister_critical_after: Duration,
  },
);

const requiredFields = { name: AppName, command: ProcessText };
const optionalFields = {
  shell: t.boolean,
  description: t.string,
  working_dir: ProcessText,
  env: Env,
  health_check_cmd: ProcessText,
  exec_user: UserName,
  status: Status,
  start_time: DateTime,
  end_time: DateTime,
  daily_limitation: DailyLimitation,
  start_interval_seconds: IntervalOrCron,
  cron: t.boolean,
  behavior: Behavior,
  retention: Duration,
  resource_limit: ResourceLimit,
  stdout_cache_num: NonNegativeInt,
  output_buffer_lines: wholeUpTo(appBounds.outputBufferLinesMax),
  output_buffer_bytes: wholeUpTo(appBounds.outputBufferBytesMax),
  metadata: t.unknown,
  port: Port,
  stop_timeout_seconds: between(0, appBounds.stopTimeoutSecondsMax, ' s'),
  health_check_interval_seconds: between(
    appBounds.healthCheckIntervalSecondsMin,
    appBounds.healthCheckIntervalSecondsMax,
    ' s',
  ),
  health_check_timeout_seconds: between(
    appBounds.healthCheckTimeoutSecondsMin,
    appBounds.healthCheckTimeoutSecondsMax,
    ' s',
  ),
  service: ServiceSettings,
};

/**
 * App Mesh application fields (settings and the runtime fields its GET returns) that appmesh does not
 * implement. They are accepted, so App Mesh JSON can be applied as it is, and reported as warnings.
 */
export const unsupportedAppMeshFields: ReadonlySet<string> = new Set([
  'owner',
  'permission',
  'shell_mode',
  'session_login',
  'docker_image',
  'sec_env',
  'posix_timezone',
  'init_command',
  'fini_command',
  'initial_application_only',
  'onetime_application_only',
  'stdout_cache_size',
  'stdout_file',
  'pid',
  'pstree',
  'process_uuid',
  'container_id',
  'register_time',
  'version',
  'return',
  'return_code',
  'health',
  'fd',
  'cpu',
  'mem',
  'memory',
  'starts',
  'last_error',
  'last_start_time',
  'last_exit_time',
  'next_start_time',
  'task_id',
  'task_status',
]);

const AppFields = strictObject('App', requiredFields, optionalFields, (key) =>
  unsupportedAppMeshFields.has(key),
);

/** A decoded, validated App spec: exactly the user's fields (unsupported App Mesh fields left out). */
export type AppSpec = t.TypeOf<typeof AppFields>;

type Problem = { readonly path: readonly string[]; readonly value: unknown; readonly message: string };

const expected = (what: string, value: unknown) => `expected ${what}, got ${describeValue(value)}`;

/** Checks between fields, made once every field has the right type on its own. */
function crossFieldProblems(spec: AppSpec): Problem[] {
  const problems: Problem[] = [];
  const interval = spec.start_interval_seconds;
  if (spec.cron === true) {
    if (interval === undefined) {
      problems.push({
        path: ['cron'],
        value: true,
        message: 'true needs start_interval_seconds to hold a cron expression such as "*/5 * * * *"',
      });
    } else {
      const problem = typeof interval === 'string' ? cronProblem(interval) : 'it is a number';
      if (problem !== undefined) {
        problems.push({
          path: ['start_interval_seconds'],
          value: interval,
          message: `${expected('a cron expression (cron: true)', interval)} (${problem})`,
        });
      }
    }
  } else if (interval !== undefined) {
    const seconds = durationSeconds(interval);
    if (seconds === undefined || seconds < appBounds.startIntervalSecondsMin) {
      const hint =
        typeof interval === 'string' && cronProblem(interval) === undefined ? '; set cron: true' : '';
      problems.push({
        path: ['start_interval_seconds'],
        value: interval,
        message: `${expected(`seconds >= ${appBounds.startIntervalSecondsMin} or an ISO-8601 duration such as "PT30S"`, interval)}${hint}`,
      });
    }
  }
  problems.push(...execLimitProblems(spec));
  if (spec.start_time !== undefined && spec.end_time !== undefined) {
    const start = parseDateTime(spec.start_time) ?? 0;
    const end = parseDateTime(spec.end_time) ?? 0;
    if (end <= start) {
      problems.push({
        path: ['end_time'],
        value: spec.end_time,
        message: expected(`a time after start_time ${describeValue(spec.start_time)}`, spec.end_time),
      });
    }
  }
  const daily = spec.daily_limitation;
  if (daily !== undefined && parseTimeOfDay(daily.daily_start) === parseTimeOfDay(daily.daily_end)) {
    problems.push({
      path: ['daily_limitation', 'daily_end'],
      value: daily.daily_end,
      message: `${expected('a time other than daily_start', daily.daily_end)} (the daily window would be empty)`,
    });
  }
  for (const field of ['interval', 'timeout'] as const) {
    const value = spec.service?.[field];
    if (value !== undefined && !((durationSeconds(value) ?? 0) > 0)) {
      problems.push({
        path: ['service', field],
        value,
        message: expected('a duration > 0 (Consul cannot run a check every 0 s)', value),
      });
    }
  }
  for (const code of Object.keys(spec.behavior?.control ?? {})) {
    if (!/^\d{1,3}$/.test(code) || Number(code) > 255) {
      problems.push({
        path: ['behavior', 'control', code],
        value: code,
        message: expected('an exit code 0..255 as the key', code),
      });
    }
  }
  return problems;
}

/** Strings exec cannot take because they exceed Linux's per-string limit (see appBounds). */
function execLimitProblems(spec: AppSpec): Problem[] {
  const max = appBounds.processStringBytesMax;
  const tooLong = (bytes: number) => `${bytes} bytes is more than the ${max} one exec string may hold`;
  const problems: Problem[] = [];
  for (const field of ['command', 'health_check_cmd'] as const) {
    const value = spec[field];
    const bytes = value === undefined ? 0 : Buffer.byteLength(value);
    if (bytes > max) problems.push({ path: [field], value, message: tooLong(bytes) });
  }
  for (const [key, value] of Object.entries(spec.env ?? {})) {
    const bytes = Buffer.byteLength(key) + 1 + Buffer.byteLength(value);
    if (bytes > max) problems.push({ path: ['env', key], value, message: tooLong(bytes) });
  }
  return problems;
}

/** Copies only the fields appmesh knows, so unsupported App Mesh fields do not travel further. */
function knownFieldsOf(fields: AppSpec): AppSpec {
  const spec: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (key in requiredFields || key in optionalFields) spec[key] = value;
  }
  if (fields.resource_limit !== undefined) {
    spec['resource_limit'] =
      fields.resource_limit.memory_mb === undefined ? {} : { memory_mb: fields.resource_limit.memory_mb };
  }
  return spec as AppSpec;
}

function validateApp(u: unknown, context: t.Context): t.Validation<AppSpec> {
  if (typeof u !== 'object' || u === null || Array.isArray(u)) {
    return t.failure(u, context, expected('an App spec object', u));
  }
  const fields = AppFields.validate(u, context);
  if (isLeft(fields)) return fields;
  const spec = knownFieldsOf(fields.right);
  const problems = crossFieldProblems(spec);
  if (problems.length === 0) return t.success(spec);
  return t.failures(
    problems.map(({ path, value, message }) => ({
      value,
      message,
      context: [...context, ...path.map((key) => ({ key, type: t.unknown, actual: value }))],
    })),
  );
}

export const AppSpec: t.Type<AppSpec> = new t.Type<AppSpec>(
  'AppSpec',
  (u): u is AppSpec => !isLeft(validateApp(u, [])),
  validateApp,
  t.identity,
);

export interface DecodedApp {
  readonly spec: AppSpec;
  /** One line per accepted but ignored App Mesh field, e.g. `app "web": docker_image: ...`. */
  readonly warnings: readonly string[];
}

function unsupportedFieldPaths(value: Record<string, unknown>): string[] {
  const paths = Object.keys(value).filter((key) => unsupportedAppMeshFields.has(key));
  const limits = value['resource_limit'];
  if (typeof limits === 'object' && limits !== null) {
    for (const key of Object.keys(limits)) {
      if (UNSUPPORTED_RESOURCE_LIMITS.has(key)) paths.push(`resource_limit.${key}`);
    }
  }
  return paths;
}

/** Decodes an App spec; `subject` (e.g. `app "web"`) starts every error and warning line. */
export function decodeAppSpec(value: unknown, subject: string): Either<DecodeError, DecodedApp> {
  const result = AppSpec.decode(value);
  if (isLeft(result)) return left(new DecodeError(subject, reportErrors(result.left)));
  const warnings = unsupportedFieldPaths(value as Record<string, unknown>).map(
    (path) => `${subject}: ${path}: App Mesh field that appmesh does not support; ignored`,
  );
  return right({ spec: result.right, warnings });
}

/** An app with `start_interval_seconds` runs on a schedule (interval or cron) instead of staying up. */
export function isPeriodic(spec: AppSpec): boolean {
  return spec.start_interval_seconds !== undefined;
}
