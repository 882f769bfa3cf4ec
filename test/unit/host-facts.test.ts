// Host facts: default labels as App Mesh conditions expect them, and memory rounded so reports stay put.
import { expect } from 'chai';
import {
  hostLabels,
  hostResources,
  MEMORY_GRANULARITY_BYTES,
  osVersion,
  parseOsRelease,
  roundDown,
  steadyHostResources,
  type HostOs,
} from '../../src/agent/host-facts.js';

const MiB = 1024 * 1024;

function fakeHost(overrides: Partial<HostOs> = {}): HostOs {
  return {
    hostname: () => 'web-1',
    machine: () => 'x86_64',
    platform: () => 'linux',
    release: () => '6.8.0-45-generic',
    availableParallelism: () => 8,
    totalmem: () => 16 * 1024 * MiB + 12_345,
    freemem: () => 5 * 1024 * MiB + 63 * MiB,
    ...overrides,
  };
}

describe('host facts', function () {
  it('reports free memory again only after it moved by 5 % of the total (at least 256 MiB)', function () {
    let free = 5 * 1024 * MiB;
    const read = steadyHostResources(fakeHost({ freemem: () => free }));
    expect(read().mem_free_bytes).to.equal(5 * 1024 * MiB);
    free += 700 * MiB; // 16 GiB total: the threshold is 5 % = 819.2 MiB, rounded down to 768 MiB
    expect(read().mem_free_bytes).to.equal(5 * 1024 * MiB);
    free -= 1400 * MiB; // 700 MiB below the last report: still kept
    expect(read().mem_free_bytes).to.equal(5 * 1024 * MiB);
    free = 5 * 1024 * MiB + 800 * MiB;
    expect(read().mem_free_bytes).to.equal(5 * 1024 * MiB + 768 * MiB);
    free = 4 * 1024 * MiB;
    expect(read().mem_free_bytes).to.equal(4 * 1024 * MiB);
  });

  it('takes a changed total or CPU count at once', function () {
    let cores = 8;
    const read = steadyHostResources(fakeHost({ availableParallelism: () => cores }));
    expect(read().cpu_cores).to.equal(8);
    cores = 4;
    expect(read().cpu_cores).to.equal(4);
  });

  it('rounds memory down to 64 MiB, so small changes in free memory do not change the report', function () {
    expect(MEMORY_GRANULARITY_BYTES).to.equal(64 * MiB);
    expect(hostResources(fakeHost())).to.deep.equal({
      cpu_cores: 8,
      mem_total_bytes: 16 * 1024 * MiB,
      mem_free_bytes: 5 * 1024 * MiB,
    });
    const a = hostResources(fakeHost({ freemem: () => 5 * 1024 * MiB + 1 * MiB }));
    const b = hostResources(fakeHost({ freemem: () => 5 * 1024 * MiB + 60 * MiB }));
    expect(a).to.deep.equal(b);
    expect(roundDown(130 * MiB, 64 * MiB)).to.equal(128 * MiB);
    expect(() => roundDown(1, 0)).to.throw(RangeError);
  });

  it('labels the host name, the uname -m architecture and the distribution version', function () {
    const osRelease = 'NAME="Ubuntu"\nVERSION_ID="22.04"\nID=ubuntu\nPRETTY_NAME="Ubuntu 22.04.4 LTS"\n';
    expect(hostLabels(fakeHost(), osRelease)).to.deep.equal({
      HOST_NAME: 'web-1',
      arch: 'x86_64',
      os_version: 'ubuntu22.04',
    });
  });

  it('falls back to the platform and kernel release without an os-release file', function () {
    expect(osVersion('darwin', '23.4.0', undefined)).to.equal('darwin23.4.0');
    expect(osVersion('linux', '6.8.0', 'NAME=Something\n')).to.equal('linux6.8.0');
    expect(osVersion('linux', '6.8.0', 'ID=alpine\n')).to.equal('alpine');
  });

  it('parses os-release values, quoted or not, with escapes', function () {
    expect(
      parseOsRelease('# comment\nID="rhel"\nVERSION_ID=\'9.4\'\nNAME="Say \\"hi\\""\n\nbad line\n'),
    ).to.deep.equal({
      ID: 'rhel',
      VERSION_ID: '9.4',
      NAME: 'Say "hi"',
    });
  });

  it('reads this machine without throwing', function () {
    const labels = hostLabels();
    expect(labels['HOST_NAME']).to.be.a('string').and.not.equal('');
    expect(labels['os_version']).to.be.a('string').and.not.equal('');
    const resources = hostResources();
    expect(resources.cpu_cores).to.be.greaterThan(0);
    expect(resources.mem_total_bytes % MEMORY_GRANULARITY_BYTES).to.equal(0);
  });
});
