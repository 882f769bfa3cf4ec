// Process groups with real processes: stop ends a shell's children too, live children are recorded,
// and leftovers of a previous agent run are reaped only when their start time matches.
import { spawn, type ChildProcess } from 'node:child_process';
import { expect } from 'chai';
import { readProcessStartTime, reapLeftovers } from '../../src/process/index.js';
import { TestApps, isAlive, liveGroupMembers } from '../fixtures/process.js';
import { eventually } from '../fixtures/eventually.js';

describe('AppProcess process groups (real processes)', function () {
  this.timeout(30_000);
  const apps = new TestApps();
  afterEach(() => apps.stopAll());

  it("ends a shell app's background children on stop", async function () {
    const app = apps.create({ name: 'forker', shell: true, command: 'sleep 300 & sleep 300 & wait' });
    app.start();
    const pid = await eventually('a pid', () => app.status().pid);
    const members = await eventually('sh and both sleeps', () => {
      const live = liveGroupMembers(pid);
      return live.length >= 3 ? live : undefined;
    });
    await app.stop();
    expect(members.filter(isAlive)).to.deep.equal([]);
    expect(app.status()).to.include({ state: 'disabled', pid: undefined });
  });

  it('kills a group that ignores SIGTERM after the stop timeout', async function () {
    const app = apps.create({
      name: 'stubborn',
      shell: true,
      command: 'trap "" TERM; sleep 300 & wait',
      stop_timeout_seconds: 0.3,
    });
    app.start();
    const pid = await eventually('a pid', () => app.status().pid);
    const members = await eventually('sh and sleep', () => {
      const live = liveGroupMembers(pid);
      return live.length >= 2 ? live : undefined;
    });
    const started = Date.now();
    await app.stop();
    expect(Date.now() - started).to.be.at.least(250);
    expect(members.filter(isAlive)).to.deep.equal([]);
  });

  it('records each started process with its start time, and its exit', async function () {
    const calls: string[] = [];
    const recorder = {
      recordStart: (app: string, pid: number, startTime: number) => {
        calls.push(`start ${app} ${pid} ${startTime}`);
      },
      recordExit: (app: string, pid: number) => {
        calls.push(`exit ${app} ${pid}`);
      },
    };
    const app = apps.create({ name: 'recorded', command: 'sleep 300' }, { recorder });
    app.start();
    const pid = await eventually('a pid', () => app.status().pid);
    await eventually('the start record', () => calls.length === 1);
    const startTime = await readProcessStartTime(pid);
    await app.stop();
    expect(calls).to.deep.equal([`start recorded ${pid} ${startTime}`, `exit recorded ${pid}`]);
  });
});

describe('reapLeftovers (real processes)', function () {
  this.timeout(30_000);
  const spawned: ChildProcess[] = [];
  const leftover = (script: string) => {
    const child = spawn('/bin/sh', ['-c', script], { detached: true, stdio: 'ignore' });
    spawned.push(child);
    if (child.pid === undefined) throw new Error('could not spawn a test process');
    return child.pid;
  };
  afterEach(function () {
    for (const child of spawned.splice(0)) {
      if (child.pid !== undefined && isAlive(child.pid)) process.kill(-child.pid, 'SIGKILL');
    }
  });

  it('terminates a matching leftover group and leaves a reused pid alone', async function () {
    const stale = leftover('sleep 300 & wait');
    const other = leftover('sleep 300');
    await eventually('the leftover to have its child', () => liveGroupMembers(stale).length >= 2);
    const staleMembers = liveGroupMembers(stale);
    const staleStart = await readProcessStartTime(stale);
    const otherStart = await readProcessStartTime(other);
    if (staleStart === undefined || otherStart === undefined) throw new Error('test processes vanished');
    const results = await reapLeftovers(
      [
        { app: 'stale', pid: stale, startTime: staleStart },
        { app: 'reused', pid: other, startTime: otherStart - 1 },
        { app: 'long-gone', pid: 2 ** 22 + 7, startTime: 1 },
      ],
      { graceMs: 2_000 },
    );
    expect(results).to.have.deep.members([
      { app: 'stale', pid: stale, outcome: 'terminated', foundBy: 'ledger' },
      { app: 'reused', pid: other, outcome: 'pid-reused', foundBy: 'ledger' },
      { app: 'long-gone', pid: 2 ** 22 + 7, outcome: 'gone', foundBy: 'ledger' },
    ]);
    expect(staleMembers.filter(isAlive)).to.deep.equal([]);
    expect(isAlive(other)).to.equal(true);
  });

  it('kills a leftover that ignores SIGTERM after the grace period', async function () {
    const stubborn = leftover('trap "" TERM; sleep 300 & wait');
    await eventually('the leftover to have its child', () => liveGroupMembers(stubborn).length >= 2);
    const startTime = await readProcessStartTime(stubborn);
    if (startTime === undefined) throw new Error('test process vanished');
    const results = await reapLeftovers([{ app: 'stubborn', pid: stubborn, startTime }], { graceMs: 300 });
    expect(results).to.deep.equal([{ app: 'stubborn', pid: stubborn, outcome: 'killed', foundBy: 'ledger' }]);
    expect(liveGroupMembers(stubborn)).to.deep.equal([]);
  });

  it('finds leftovers by their marker without any record, and only those of this agent id', async function () {
    const marked = (agentId: string, script: string) => {
      const child = spawn('/bin/sh', ['-c', script], {
        detached: true,
        stdio: 'ignore',
        env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', APPMESH_AGENT_ID: agentId, APPMESH_APP: 'm' },
      });
      spawned.push(child);
      if (child.pid === undefined) throw new Error('could not spawn a test process');
      return child.pid;
    };
    const ours = marked('agent-under-test', 'sleep 300 & wait');
    const foreign = marked('another-agent', 'sleep 302');
    await eventually('the leftover to have its child', () => liveGroupMembers(ours).length >= 2);
    const members = liveGroupMembers(ours);
    const results = await reapLeftovers([], {
      agentId: 'agent-under-test',
      graceMs: 2_000,
      markedStartedBy: Number.MAX_SAFE_INTEGER,
    });
    expect(results).to.deep.equal([{ app: 'm', pid: ours, outcome: 'terminated', foundBy: 'marker' }]);
    expect(members.filter(isAlive)).to.deep.equal([]);
    expect(isAlive(foreign)).to.equal(true);
  });
});
