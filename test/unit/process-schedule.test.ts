// Schedules, with time passed in: the window from start_time/end_time and daily_limitation, and the
// next start of periodic apps (interval or cron). Local times are built with the Date constructor, so
// the expectations hold in any time zone.
import { expect } from 'chai';
import type { AppSpec } from '../../api/app.js';
import { firstScheduledStart, intervalMs, nextScheduledStart, windowAt } from '../../src/process/schedule.js';

const spec = (fields: Partial<AppSpec>): AppSpec => ({ name: 'app', command: 'true', ...fields }) as AppSpec;
/** 2026-03-10 at the given local time. */
const at = (hours: number, minutes = 0, seconds = 0, day = 10) =>
  new Date(2026, 2, day, hours, minutes, seconds).getTime();

describe('windowAt', function () {
  it('is always inside without any window', function () {
    expect(windowAt(spec({}), at(3))).to.deep.equal({ inside: true, nextChange: undefined });
  });

  it('waits for start_time and closes at end_time', function () {
    const app = spec({
      start_time: new Date(at(12)).toISOString(),
      end_time: new Date(at(14)).toISOString(),
    });
    expect(windowAt(app, at(11))).to.deep.equal({ inside: false, nextChange: at(12) });
    expect(windowAt(app, at(12))).to.deep.equal({ inside: true, nextChange: at(14) });
    expect(windowAt(app, at(14))).to.deep.equal({ inside: false, nextChange: undefined });
  });

  it('opens and closes a daily window every day', function () {
    const app = spec({ daily_limitation: { daily_start: '09:00', daily_end: '17:30' } });
    expect(windowAt(app, at(8))).to.deep.equal({ inside: false, nextChange: at(9) });
    expect(windowAt(app, at(9))).to.deep.equal({ inside: true, nextChange: at(17, 30) });
    expect(windowAt(app, at(18))).to.deep.equal({ inside: false, nextChange: at(9, 0, 0, 11) });
  });

  it('handles a daily window that wraps midnight', function () {
    const app = spec({ daily_limitation: { daily_start: '22:00', daily_end: '02:00:00' } });
    expect(windowAt(app, at(23))).to.deep.equal({ inside: true, nextChange: at(2, 0, 0, 11) });
    expect(windowAt(app, at(1))).to.deep.equal({ inside: true, nextChange: at(2) });
    expect(windowAt(app, at(12))).to.deep.equal({ inside: false, nextChange: at(22) });
  });

  it('combines both: opens at the first daily window after start_time, never at or after end_time', function () {
    const app = spec({
      start_time: new Date(at(18)).toISOString(),
      end_time: new Date(at(12, 0, 0, 12)).toISOString(),
      daily_limitation: { daily_start: '09:00', daily_end: '17:00' },
    });
    expect(windowAt(app, at(10))).to.deep.equal({ inside: false, nextChange: at(9, 0, 0, 11) });
    expect(windowAt(app, at(10, 0, 0, 11))).to.deep.equal({ inside: true, nextChange: at(17, 0, 0, 11) });
    expect(windowAt(app, at(10, 0, 0, 12))).to.deep.equal({ inside: true, nextChange: at(12, 0, 0, 12) });
    expect(windowAt(app, at(20, 0, 0, 11))).to.deep.equal({ inside: false, nextChange: at(9, 0, 0, 12) });
    const late = spec({ ...app, end_time: new Date(at(8, 0, 0, 12)).toISOString() });
    expect(windowAt(late, at(20, 0, 0, 11))).to.deep.equal({ inside: false, nextChange: undefined });
  });
});

describe('periodic schedule', function () {
  it('reads the interval from seconds or an ISO-8601 duration', function () {
    expect(intervalMs(spec({ start_interval_seconds: 2 }))).to.equal(2_000);
    expect(intervalMs(spec({ start_interval_seconds: 'PT1M' }))).to.equal(60_000);
    expect(intervalMs(spec({}))).to.equal(undefined);
  });

  it('starts an interval app at once, then every interval from the first start', function () {
    const app = spec({ start_interval_seconds: 'PT30S' });
    const anchor = at(10);
    expect(firstScheduledStart(app, anchor)).to.equal(anchor);
    expect(nextScheduledStart(app, anchor, anchor)).to.equal(at(10, 0, 30));
    expect(nextScheduledStart(app, anchor, at(10, 0, 29))).to.equal(at(10, 0, 30));
  });

  it('skips the ticks that passed during a long run', function () {
    const app = spec({ start_interval_seconds: 30 });
    expect(nextScheduledStart(app, at(10), at(10, 1, 40))).to.equal(at(10, 2, 0));
  });

  it('follows a cron expression, never starting at once', function () {
    const app = spec({ start_interval_seconds: '*/15 * * * *', cron: true });
    expect(firstScheduledStart(app, at(10, 7))).to.equal(at(10, 15));
    expect(nextScheduledStart(app, at(10, 7), at(10, 15))).to.equal(at(10, 30));
    const seconds = spec({ start_interval_seconds: '*/2 * * * * *', cron: true });
    expect(nextScheduledStart(seconds, at(10), at(10, 0, 3))).to.equal(at(10, 0, 4));
  });

  it('has no schedule for long-running apps', function () {
    expect(firstScheduledStart(spec({}), at(10))).to.equal(undefined);
  });
});
