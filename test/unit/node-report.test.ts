// The NodeReport codec and the reporter's content comparison: what counts as "unchanged" in Consul.
import { expect } from 'chai';
import { isLeft, isRight } from 'fp-ts/lib/Either.js';
import { NodeReport } from '../../api/cluster.js';
import { decode } from '../../api/decode.js';
import { normalizeReport, storedReportEquals } from '../../controllers/node-reporter.js';

const report: NodeReport = {
  appmesh: 'https://10.0.0.5:6060',
  label: { HOST_NAME: 'web-1', arch: 'x86_64', os_version: 'ubuntu22.04' },
  leader: false,
  resource: { cpu_cores: 4, mem_total_bytes: 8589934592, mem_free_bytes: 4294967296 },
  apps: { web: { status: 'running', pid: 1234 } },
  version: '0.1.0',
};

describe('NodeReport', function () {
  it('decodes a report, tolerating fields App Mesh adds', function () {
    const decoded = decode(NodeReport, { ...report, extra: { anything: true } }, 'nodes/web-1');
    expect(isRight(decoded)).to.equal(true);
  });

  it('names the bad field of a broken report', function () {
    const decoded = decode(NodeReport, { ...report, resource: { cpu_cores: 'four' } }, 'nodes/web-1');
    expect(isLeft(decoded) && decoded.left.message).to.contain('nodes/web-1: resource.cpu_cores');
  });

  it('treats a stored report with the same content in another key order as unchanged', function () {
    const stored = JSON.stringify({
      ...report,
      label: { os_version: 'ubuntu22.04', arch: 'x86_64', HOST_NAME: 'web-1' },
    });
    expect(storedReportEquals(stored, normalizeReport(report))).to.equal(true);
  });

  it('treats a changed, missing or unreadable value as changed', function () {
    const content = normalizeReport(report);
    expect(storedReportEquals(JSON.stringify({ ...report, leader: true }), content)).to.equal(false);
    expect(storedReportEquals(null, content)).to.equal(false);
    expect(storedReportEquals('{not json', content)).to.equal(false);
  });

  it('drops undefined fields, as they never reach Consul', function () {
    const withUndefined = { ...report, apps: { web: { status: 'running', exitCode: undefined } } };
    expect(normalizeReport(withUndefined)).to.deep.equal({ ...report, apps: { web: { status: 'running' } } });
  });
});
