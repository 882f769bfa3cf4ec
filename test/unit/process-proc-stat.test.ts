// /proc/<pid>/stat parsing: the command name may contain spaces and parentheses.
import { expect } from 'chai';
import { parseProcStat, readProcessStartTime } from '../../src/process/proc-stat.js';

describe('parseProcStat', function () {
  it('counts fields from the last parenthesis', function () {
    const fields = Array.from({ length: 50 }, (_v, i) => String(i + 3));
    fields[0] = 'S';
    const text = `1234 (my (odd) name) ${fields.join(' ')}\n`;
    expect(parseProcStat(1234, text)).to.deep.equal({
      pid: 1234,
      state: 'S',
      pgrp: 5,
      cpuTicks: 14 + 15 + 16 + 17,
      startTime: 22,
    });
  });

  it('returns undefined for text that is not a stat line', function () {
    expect(parseProcStat(1, 'garbage')).to.equal(undefined);
  });

  it('reads this process start time, and nothing for a pid that does not exist', async function () {
    expect(await readProcessStartTime(process.pid)).to.be.a('number');
    expect(await readProcessStartTime(2 ** 22 + 1)).to.equal(undefined);
  });
});
