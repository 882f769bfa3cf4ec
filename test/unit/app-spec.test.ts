// App spec decoding: App Mesh JSON is accepted as it is, mistakes are reported with their path, and
// App Mesh fields appmesh does not implement become warnings.
import { expect } from 'chai';
import { isLeft, isRight } from 'fp-ts/lib/Either.js';
import {
  AppSpec,
  cronProblem,
  decodeAppSpec,
  durationSeconds,
  nextCronTime,
  parseDateTime,
  parseTimeOfDay,
} from '../../api/app.js';

const problemsOf = (value: unknown): readonly string[] => {
  const result = decodeAppSpec(value, 'app "web"');
  return isLeft(result) ? result.left.problems : [];
};

const specOf = (value: unknown) => {
  const result = decodeAppSpec(value, 'app "web"');
  if (isLeft(result)) throw result.left;
  return result.right;
};

describe('App spec', function () {
  it('accepts a full App Mesh long-running app', function () {
    const { spec, warnings } = specOf({
      name: 'web',
      command: 'python3 -m http.server 8080',
      shell: false,
      description: 'static files',
      working_dir: '/srv',
      env: { PYTHONUNBUFFERED: '1' },
      health_check_cmd: 'curl -sf http://127.0.0.1:8080/',
      status: 1,
      start_time: '2026-01-01T00:00:00+08',
      end_time: '2036-01-01T00:00:00Z',
      daily_limitation: { daily_start: '09:00', daily_end: '01:30:00' },
      behavior: { exit: 'restart', control: { '0': 'standby', '3': 'remove' } },
      retention: 'PT1H',
      resource_limit: { memory_mb: 256 },
      stdout_cache_num: 3,
      output_buffer_lines: 500,
      output_buffer_bytes: 65536,
      metadata: { team: 'web', tags: ['a'] },
      port: 8080,
      stop_timeout_seconds: 5,
      health_check_interval_seconds: 2,
      health_check_timeout_seconds: 1,
    });
    expect(spec.name).to.equal('web');
    expect(spec.behavior?.control?.['0']).to.equal('standby');
    expect(warnings).to.deep.equal([]);
  });

  it('accepts periodic apps with an interval in seconds, an ISO-8601 duration or cron', function () {
    expect(
      specOf({ name: 'a', command: 'date', start_interval_seconds: 30 }).spec.start_interval_seconds,
    ).to.equal(30);
    expect(
      specOf({ name: 'a', command: 'date', start_interval_seconds: 'PT30S' }).spec.start_interval_seconds,
    ).to.equal('PT30S');
    expect(
      specOf({ name: 'a', command: 'date', start_interval_seconds: '*/5 * * * *', cron: true }).spec.cron,
    ).to.equal(true);
    expect(
      specOf({ name: 'a', command: 'date', start_interval_seconds: '0 */5 * * * *', cron: true }).spec.cron,
    ).to.equal(true);
  });

  it('keeps the spec as the user wrote it (no defaults filled in)', function () {
    const { spec } = specOf({ name: 'web', command: 'sleep 30' });
    expect(spec).to.deep.equal({ name: 'web', command: 'sleep 30' });
  });

  it('reports an unknown field with its path', function () {
    expect(problemsOf({ name: 'web', command: 'sleep 1', colour: 'red' })).to.deep.equal([
      'colour: unknown field',
    ]);
    expect(
      problemsOf({ name: 'web', command: 'sleep 1', behavior: { exit: 'restart', retries: 3 } }),
    ).to.deep.equal(['behavior.retries: unknown field']);
  });

  it('accepts App Mesh fields it does not support, with a warning naming each', function () {
    const { spec, warnings } = specOf({
      name: 'web',
      command: 'sleep 1',
      docker_image: 'nginx',
      owner: 'admin',
      pid: 1234,
      resource_limit: { memory_mb: 100, cpu_shares: 512 },
    });
    expect(warnings).to.have.members([
      'app "web": docker_image: App Mesh field that appmesh does not support; ignored',
      'app "web": owner: App Mesh field that appmesh does not support; ignored',
      'app "web": pid: App Mesh field that appmesh does not support; ignored',
      'app "web": resource_limit.cpu_shares: App Mesh field that appmesh does not support; ignored',
    ]);
    expect(spec).to.deep.equal({ name: 'web', command: 'sleep 1', resource_limit: { memory_mb: 100 } });
  });

  it('names the allowed exit actions when one is wrong', function () {
    const result = decodeAppSpec({ name: 'web', command: 'x', behavior: { exit: 'crash' } }, 'app "web"');
    expect(isLeft(result) && result.left.message).to.equal(
      'app "web": behavior.exit: expected "standby" | "restart" | "keepalive" | "remove", got "crash"',
    );
    expect(
      problemsOf({ name: 'web', command: 'x', behavior: { control: { '1': 'explode' } } }),
    ).to.deep.equal([
      'behavior.control.1: expected "standby" | "restart" | "keepalive" | "remove", got "explode"',
    ]);
    expect(
      problemsOf({ name: 'web', command: 'x', behavior: { control: { one: 'restart' } } }),
    ).to.deep.equal(['behavior.control.one: expected an exit code 0..255 as the key, got "one"']);
  });

  it('reports every bad field of an otherwise known spec', function () {
    expect(
      problemsOf({ name: 'a/b', command: '', status: 2, port: 70000, output_buffer_lines: 0, env: { A: 1 } }),
    ).to.have.members([
      'name: expected AppName, got "a/b"',
      'command: expected a non-empty string, got ""',
      'status: expected 1 (enabled) | 0 (disabled), got 2',
      'port: expected Port, got 70000',
      'output_buffer_lines: expected a whole number from 1 to 100000, got 0',
      'env.A: expected string, got 1',
    ]);
  });

  it('needs a cron expression when cron is true', function () {
    expect(problemsOf({ name: 'a', command: 'x', cron: true })).to.deep.equal([
      'cron: true needs start_interval_seconds to hold a cron expression such as "*/5 * * * *"',
    ]);
    const [tooShort] = problemsOf({ name: 'a', command: 'x', cron: true, start_interval_seconds: '* * *' });
    expect(tooShort).to.match(
      /^start_interval_seconds: expected a cron expression \(cron: true\), got "\* \* \*" \(.*5 fields/,
    );
    const [outOfRange] = problemsOf({
      name: 'a',
      command: 'x',
      cron: true,
      start_interval_seconds: '61 * * * *',
    });
    expect(outOfRange).to.match(/^start_interval_seconds: expected a cron expression/);
    expect(problemsOf({ name: 'a', command: 'x', cron: true, start_interval_seconds: 30 })).to.have.length(1);
  });

  it('rejects an interval that is neither seconds nor an ISO-8601 duration, hinting at cron', function () {
    expect(problemsOf({ name: 'a', command: 'x', start_interval_seconds: 'P1X' })).to.deep.equal([
      'start_interval_seconds: expected seconds >= 1 or an ISO-8601 duration such as "PT30S", got "P1X"',
    ]);
    expect(problemsOf({ name: 'a', command: 'x', start_interval_seconds: '*/5 * * * *' })[0]).to.match(
      /set cron: true$/,
    );
    expect(problemsOf({ name: 'a', command: 'x', start_interval_seconds: 0 })).to.have.length(1);
    expect(problemsOf({ name: 'a', command: 'x', retention: 'ten minutes' })).to.deep.equal([
      'retention: expected seconds or an ISO-8601 duration such as "PT30S", got "ten minutes"',
    ]);
  });

  it('rejects an end_time that is not after start_time, and malformed times', function () {
    expect(
      problemsOf({
        name: 'a',
        command: 'x',
        start_time: '2026-02-01T00:00:00Z',
        end_time: '2026-01-01T00:00:00Z',
      }),
    ).to.deep.equal([
      'end_time: expected a time after start_time "2026-02-01T00:00:00Z", got "2026-01-01T00:00:00Z"',
    ]);
    expect(problemsOf({ name: 'a', command: 'x', start_time: 'tomorrow' })[0]).to.match(
      /^start_time: expected an ISO-8601/,
    );
    expect(
      problemsOf({ name: 'a', command: 'x', daily_limitation: { daily_start: '25:00', daily_end: '10:00' } }),
    ).to.deep.equal([
      'daily_limitation.daily_start: expected a time of day "HH:MM" or "HH:MM:SS", got "25:00"',
    ]);
    expect(
      problemsOf({
        name: 'a',
        command: 'x',
        daily_limitation: { daily_start: '10:00', daily_end: '10:00:00' },
      }),
    ).to.have.length(1);
  });

  it('rejects a value that is not an object at all', function () {
    expect(problemsOf('sleep 30')).to.deep.equal(['(root): expected an App spec object, got "sleep 30"']);
  });

  it('decodes its own output again unchanged (the codec is idempotent)', function () {
    const { spec } = specOf({
      name: 'w',
      command: 'x',
      resource_limit: { memory_mb: 1, memory_virt_mb: 2 },
      owner: 'o',
    });
    const again = AppSpec.decode(spec);
    expect(isRight(again) && again.right).to.deep.equal(spec);
    expect(AppSpec.is(spec)).to.equal(true);
  });
});

describe('App spec value parsers', function () {
  it('reads durations as seconds, numeric strings or ISO-8601', function () {
    expect(durationSeconds(90)).to.equal(90);
    expect(durationSeconds('90')).to.equal(90);
    expect(durationSeconds('PT30S')).to.equal(30);
    expect(durationSeconds('PT1M30S')).to.equal(90);
    expect(durationSeconds('P1DT2H')).to.equal(86400 + 7200);
    expect(durationSeconds('P5W')).to.equal(5 * 7 * 86400);
    expect(durationSeconds('PT0.5S')).to.equal(0.5);
    expect(durationSeconds('P')).to.equal(undefined);
    expect(durationSeconds('PT')).to.equal(undefined);
    expect(durationSeconds('30s')).to.equal(undefined);
    expect(durationSeconds(-1)).to.equal(undefined);
  });

  it('reads ISO date-times, App Mesh short offsets and epoch seconds', function () {
    expect(parseDateTime('2026-01-01T00:00:00Z')).to.equal(Date.UTC(2026, 0, 1));
    expect(parseDateTime('2026-01-01T08:00:00+08')).to.equal(Date.UTC(2026, 0, 1));
    expect(parseDateTime('2026-01-01T08:00:00+0800')).to.equal(Date.UTC(2026, 0, 1));
    expect(parseDateTime('2026-01-01T09:30:00')).to.equal(new Date(2026, 0, 1, 9, 30).getTime());
    expect(parseDateTime(1767225600)).to.equal(Date.UTC(2026, 0, 1));
    expect(parseDateTime('01/01/2026')).to.equal(undefined);
  });

  it('reads times of day', function () {
    expect(parseTimeOfDay('09:30')).to.equal(9 * 3600 + 30 * 60);
    expect(parseTimeOfDay('23:59:59')).to.equal(86399);
    expect(parseTimeOfDay('24:00')).to.equal(undefined);
    expect(parseTimeOfDay('9h')).to.equal(undefined);
  });

  it('validates cron expressions and finds their next tick', function () {
    expect(cronProblem('*/5 * * * *')).to.equal(undefined);
    expect(cronProblem('@hourly')).to.equal(undefined);
    expect(cronProblem('')).to.match(/5 fields/);
    expect(cronProblem('* * * * * * *')).to.match(/not 7/);
    const from = new Date(2026, 0, 1, 10, 2, 0).getTime();
    expect(nextCronTime('*/5 * * * *', from)).to.equal(new Date(2026, 0, 1, 10, 5, 0).getTime());
    expect(nextCronTime('0 9 * * *', from)).to.equal(new Date(2026, 0, 2, 9, 0, 0).getTime());
  });
});
