// Dynamic ports shared by the agents of one host: claims in a common directory keep two agents from
// handing out the same port, a dead (or pid-reused) holder's claim is taken over, and a port found taken
// after it was handed out is replaced.
import { expect } from 'chai';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DynamicPortAllocator,
  holderOf,
  HostPortLocks,
  noHostClaims,
} from '../../controllers/service-registrar/dynamic-ports.js';

describe('dynamic ports across agents on one host', function () {
  let dir = '';
  const range = { from: 21000, to: 21009 };
  const nothingListens = () => new Set<number>();
  const self = holderOf(process.pid);
  // Another live process stands in for the second agent: pid 1 is always there.
  const other = holderOf(1);

  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), 'appmesh-port-claims-'));
  });
  afterEach(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives the same task on two agents sharing the claim directory two different ports', function () {
    if (self === undefined || other === undefined) this.skip(); // no /proc
    const first = new DynamicPortAllocator(range, nothingListens, new HostPortLocks(dir, self));
    const second = new DynamicPortAllocator(range, nothingListens, new HostPortLocks(dir, other));
    const a = first.portFor('web');
    const b = second.portFor('web');
    expect(a).to.be.a('number');
    expect(b).to.be.a('number').and.not.equal(a);
    expect(readdirSync(dir).sort()).to.deep.equal([String(a), String(b)].sort());
  });

  it('takes over the claim of a holder that is gone, or whose pid now belongs to another process', function () {
    if (self === undefined || other === undefined) this.skip();
    const locks = new HostPortLocks(dir, self);
    writeFileSync(join(dir, '21000'), JSON.stringify({ pid: 2 ** 22 + 12345, startTime: 1 }));
    writeFileSync(join(dir, '21001'), JSON.stringify({ pid: other.pid, startTime: other.startTime + 1 }));
    writeFileSync(join(dir, '21002'), 'not json');
    expect(locks.claim(21000, 't')).to.equal(true);
    expect(locks.claim(21001, 't')).to.equal(true);
    expect(locks.claim(21002, 't')).to.equal(true);
    expect(readdirSync(dir).sort()).to.deep.equal(['21000', '21001', '21002']);
  });

  it('leaves a live holder its claim, and gives back only its own', function () {
    if (self === undefined || other === undefined) this.skip();
    const mine = new HostPortLocks(dir, self);
    const theirs = new HostPortLocks(dir, other);
    expect(theirs.claim(21000, 't')).to.equal(true);
    expect(mine.claim(21000, 't')).to.equal(false);
    mine.release(21000);
    expect(readdirSync(dir)).to.deep.equal(['21000']);
    theirs.release(21000);
    expect(readdirSync(dir)).to.deep.equal([]);
  });

  it('gives the ports back when the tasks leave or the agent stops', function () {
    if (self === undefined) this.skip();
    const allocator = new DynamicPortAllocator(range, nothingListens, new HostPortLocks(dir, self));
    allocator.portFor('a');
    allocator.portFor('b');
    allocator.keepOnly(new Set(['b']));
    expect(readdirSync(dir)).to.have.length(1);
    allocator.releaseAll();
    expect(readdirSync(dir)).to.deep.equal([]);
  });

  it('falls back to its own bookkeeping, and says so, when the directory cannot be used', function () {
    const notADir = join(dir, 'file');
    writeFileSync(notADir, '');
    const locks = new HostPortLocks(join(notADir, 'ports'));
    expect(locks.claim(21000, 't')).to.equal(true);
    expect(locks.problem).to.match(/port claims in .*ports failed .*APPMESH_PORT_LOCK_DIR/);
  });

  it('replaces a port found taken by another process and does not hand it straight back', function () {
    const allocator = new DynamicPortAllocator({ from: 21000, to: 21001 }, nothingListens, noHostClaims);
    const first = allocator.portFor('web');
    allocator.replace('web');
    const second = allocator.portFor('web');
    expect(second).to.be.a('number').and.not.equal(first);
  });
});
