// exec_user resolution from passwd/group text (src/process/exec-user.ts): ids and supplementary groups,
// the refusals (no such user, an agent that is not root), and the setpriv command line.
import { expect } from 'chai';
import { commandLineAs, lookupExecUser, type UserDatabase } from '../../src/process/exec-user.js';

const passwd = [
  'root:x:0:0:root:/root:/bin/bash',
  'app:x:1001:1001:App:/home/app:/bin/sh',
  'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
].join('\n');
const group = ['root:x:0:', 'app:x:1001:', 'web:x:2000:app,other', 'docker:x:999:other', 'log:x:4:app'].join(
  '\n',
);
const asRoot: UserDatabase = { passwd, group, agentUid: 0, setpriv: '/usr/bin/setpriv' };

describe('exec_user', function () {
  it('finds the ids, home, shell and every group that lists the user', function () {
    expect(lookupExecUser('app', asRoot)).to.deep.equal({
      user: {
        name: 'app',
        uid: 1001,
        gid: 1001,
        groups: [4, 1001, 2000],
        home: '/home/app',
        shell: '/bin/sh',
      },
    });
  });

  it('refuses a user that does not exist, naming the field', function () {
    const found = lookupExecUser('ghost', asRoot);
    expect(found)
      .to.have.property('problem')
      .that.matches(/^exec_user: no user "ghost"/);
  });

  it('refuses another user when the agent is not root, but allows its own user', function () {
    const asApp = { ...asRoot, agentUid: 1001 };
    expect(lookupExecUser('nobody', asApp))
      .to.have.property('problem')
      .that.matches(/not root/);
    expect(lookupExecUser('app', asApp)).to.have.property('user');
  });

  it('refuses when setpriv is missing and a switch is needed', function () {
    expect(lookupExecUser('app', { ...asRoot, setpriv: undefined }))
      .to.have.property('problem')
      .that.matches(/setpriv/);
  });

  it('runs through setpriv with exactly the user ids and groups, and not at all for the agent user', function () {
    const found = lookupExecUser('app', asRoot);
    if (!('user' in found)) throw new Error(found.problem);
    expect(commandLineAs({ file: 'sleep', args: ['5'] }, found.user, asRoot)).to.deep.equal({
      file: '/usr/bin/setpriv',
      args: ['--reuid=1001', '--regid=1001', '--groups=4,1001,2000', '--', 'sleep', '5'],
    });
    expect(
      commandLineAs({ file: 'sleep', args: ['5'] }, found.user, { agentUid: 1001, setpriv: undefined }),
    ).to.deep.equal({
      file: 'sleep',
      args: ['5'],
    });
  });
});
