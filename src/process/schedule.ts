// When an app may run and when it next starts, as pure functions of the spec and the time: the window
// formed by start_time/end_time and daily_limitation (local time, may wrap midnight), and the ticks of a
// periodic app (a fixed interval from its first start, or a cron expression).
import {
  durationSeconds,
  isPeriodic,
  nextCronTime,
  parseDateTime,
  parseTimeOfDay,
  type AppSpec,
} from '../../api/app.js';

export interface WindowState {
  readonly inside: boolean;
  /** Inside: when the window closes (undefined = never). Outside: when it opens (undefined = never again). */
  readonly nextChange: number | undefined;
}

interface DailyWindow {
  readonly startSeconds: number;
  readonly endSeconds: number;
}

function dailyWindowOf(spec: AppSpec): DailyWindow | undefined {
  const daily = spec.daily_limitation;
  if (daily === undefined) return undefined;
  const startSeconds = parseTimeOfDay(daily.daily_start);
  const endSeconds = parseTimeOfDay(daily.daily_end);
  return startSeconds === undefined || endSeconds === undefined ? undefined : { startSeconds, endSeconds };
}

/** The local time `secondsOfDay` after midnight of the day `dayOffset` days after `atMs`'s day. */
function localTimeOnDay(atMs: number, secondsOfDay: number, dayOffset: number): number {
  const day = new Date(atMs);
  return new Date(day.getFullYear(), day.getMonth(), day.getDate() + dayOffset, 0, 0, secondsOfDay).getTime();
}

/** The first moment strictly after `atMs` whose local time of day is `secondsOfDay`. */
function nextTimeOfDay(atMs: number, secondsOfDay: number): number {
  const today = localTimeOnDay(atMs, secondsOfDay, 0);
  return today > atMs ? today : localTimeOnDay(atMs, secondsOfDay, 1);
}

function dailyWindowAt(window: DailyWindow, atMs: number): WindowState {
  const at = new Date(atMs);
  const secondsOfDay =
    at.getHours() * 3600 + at.getMinutes() * 60 + at.getSeconds() + at.getMilliseconds() / 1000;
  const { startSeconds, endSeconds } = window;
  const inside =
    startSeconds < endSeconds
      ? secondsOfDay >= startSeconds && secondsOfDay < endSeconds
      : secondsOfDay >= startSeconds || secondsOfDay < endSeconds; // wraps midnight
  return { inside, nextChange: nextTimeOfDay(atMs, inside ? endSeconds : startSeconds) };
}

const earlier = (a: number | undefined, b: number | undefined): number | undefined =>
  a === undefined ? b : b === undefined ? a : Math.min(a, b);

/** Whether the app may run at `now`, and when that next changes. */
export function windowAt(spec: AppSpec, now: number): WindowState {
  const start = spec.start_time === undefined ? undefined : parseDateTime(spec.start_time);
  const end = spec.end_time === undefined ? undefined : parseDateTime(spec.end_time);
  if (end !== undefined && now >= end) return { inside: false, nextChange: undefined };
  const daily = dailyWindowOf(spec);
  const beforeStart = start !== undefined && now < start;
  const from = beforeStart ? start : now;
  let inside = !beforeStart;
  let nextChange: number | undefined = beforeStart ? start : end;
  if (daily !== undefined) {
    const today = dailyWindowAt(daily, from);
    if (beforeStart) {
      nextChange = today.inside ? from : today.nextChange;
    } else {
      inside = today.inside;
      nextChange = today.inside ? earlier(today.nextChange, end) : today.nextChange;
    }
  }
  // An opening at or after end_time never comes.
  if (!inside && nextChange !== undefined && end !== undefined && nextChange >= end) nextChange = undefined;
  return { inside, nextChange };
}

/** A periodic app's fixed interval in ms (undefined for cron or long-running apps). */
export function intervalMs(spec: AppSpec): number | undefined {
  if (spec.cron === true || spec.start_interval_seconds === undefined) return undefined;
  const seconds = durationSeconds(spec.start_interval_seconds);
  return seconds === undefined || seconds <= 0 ? undefined : seconds * 1000;
}

/** When a periodic app entering its window at `now` first starts: now for an interval, the next cron tick for cron. */
export function firstScheduledStart(spec: AppSpec, now: number): number | undefined {
  if (!isPeriodic(spec)) return undefined;
  if (spec.cron === true) {
    return typeof spec.start_interval_seconds === 'string'
      ? nextCronTime(spec.start_interval_seconds, now)
      : undefined;
  }
  return intervalMs(spec) === undefined ? undefined : now;
}

/**
 * The first scheduled start strictly after `now`: for an interval, `anchor` (the first start) plus a
 * whole number of intervals; for cron, its next tick. Ticks that passed while a run was going are skipped.
 */
export function nextScheduledStart(spec: AppSpec, anchor: number, now: number): number | undefined {
  if (spec.cron === true) return firstScheduledStart(spec, now);
  const interval = intervalMs(spec);
  if (interval === undefined) return undefined;
  if (now < anchor) return anchor;
  return anchor + (Math.floor((now - anchor) / interval) + 1) * interval;
}
