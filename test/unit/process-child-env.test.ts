// What an app's process gets as its environment (src/process/child-env.ts): the minimal pass-through,
// the agent-wide allow and deny lists (deny wins, tokens always denied), the exec_user's identity, and
// appmesh's markers last so a spec cannot override them.
import { expect } from 'chai';
import fc from 'fast-check';
import {
  agentEnvForApps,
  appEnvironment,
  DEFAULT_DENY,
  MARKER_AGENT_ID,
  MARKER_APP,
} from '../../src/process/child-env.js';

const agentEnv = {
  PATH: '/usr/bin:/bin',
  HOME: '/root',
  LANG: 'C.UTF-8',
  LC_ALL: 'C',
  TZ: 'UTC',
  CONSUL_HTTP_TOKEN: 'consul-secret',
  CONSUL_HTTP_TOKEN_FILE: '/etc/consul-token',
  APPMESH_API_TOKEN: 'api-secret',
  APPMESH_DATA_DIR: '/var/lib/appmesh',
  AWS_SECRET_ACCESS_KEY: 'aws',
  GITHUB_TOKEN: 'gh',
  DB_PASSWORD: 'pw',
  SSH_PRIVATE_KEY: 'k',
  EDITOR: 'vi',
  MY_SETTING: 'on',
  MY_TOKEN: 'mine',
};

describe('app environment', function () {
  it('passes only the minimal set of agent variables by default', function () {
    expect(agentEnvForApps(agentEnv)).to.deep.equal({
      PATH: '/usr/bin:/bin',
      HOME: '/root',
      LANG: 'C.UTF-8',
      LC_ALL: 'C',
      TZ: 'UTC',
    });
  });

  it('passes what env.allow names, but never what env.deny names', function () {
    const env = agentEnvForApps(agentEnv, { allow: ['MY_*', 'EDITOR'], deny: DEFAULT_DENY });
    expect(env).to.include({ MY_SETTING: 'on', EDITOR: 'vi' });
    expect(env).to.not.have.property('MY_TOKEN');
  });

  it('never passes the agent tokens, even when allowed everything and denying nothing', function () {
    const env = agentEnvForApps(agentEnv, { allow: ['*'], deny: [] });
    expect(env).to.not.have.any.keys('CONSUL_HTTP_TOKEN', 'CONSUL_HTTP_TOKEN_FILE', 'APPMESH_API_TOKEN');
    expect(env).to.include({ EDITOR: 'vi', DB_PASSWORD: 'pw' });
  });

  it('denies case-insensitively and with every glob of the default list', function () {
    fc.assert(
      fc.property(
        fc.constantFrom('token', 'Secret', 'PASSWORD', 'passwd', 'credential', 'private'),
        fc.stringMatching(/^[A-Z]{0,5}$/),
        fc.stringMatching(/^[A-Z]{0,5}$/),
        (word, before, after) => {
          const name = `${before}_${word}_${after}`;
          const env = agentEnvForApps({ [name]: 'x' }, { allow: ['*'], deny: DEFAULT_DENY });
          expect(env, name).to.not.have.property(name);
        },
      ),
    );
  });

  it('gives PATH a default when the agent has none', function () {
    expect(agentEnvForApps({})['PATH']).to.match(/\/usr\/bin/);
  });

  it('layers base, user, launch variables, the spec, then the markers', function () {
    const env = appEnvironment({
      base: { PATH: '/bin', HOME: '/root', USER: 'root' },
      user: { name: 'app', uid: 1000, gid: 1000, groups: [1000], home: '/home/app', shell: '/bin/sh' },
      launch: { APPMESH_PEERS: 'a,b' },
      spec: { HOME: '/srv', FOO: 'bar', [MARKER_APP]: 'forged', [MARKER_AGENT_ID]: 'forged' },
      app: 'web',
      agentId: 'agent-1',
    });
    expect(env).to.deep.equal({
      PATH: '/bin',
      HOME: '/srv',
      USER: 'app',
      LOGNAME: 'app',
      SHELL: '/bin/sh',
      APPMESH_PEERS: 'a,b',
      FOO: 'bar',
      [MARKER_APP]: 'web',
      [MARKER_AGENT_ID]: 'agent-1',
    });
  });
});
