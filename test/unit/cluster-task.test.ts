// ClusterTask decoding: App Mesh's task JSON with a full App spec as content, named after the task;
// every problem is reported with its path, content problems under `content.`.
import { expect } from 'chai';
import { isLeft, isRight } from 'fp-ts/lib/Either.js';
import { decodeClusterTask, decodeClusterTaskJson } from '../../api/cluster.js';

const subject = 'appmesh/cluster/tasks/web';
const problemsOf = (value: unknown, task = 'web'): readonly string[] => {
  const result = decodeClusterTask(value, task, subject);
  return isLeft(result) ? result.left.problems : [];
};

describe('decodeClusterTask', function () {
  it('decodes an App Mesh task and names its app after the task', function () {
    const result = decodeClusterTask(
      {
        replication: 3,
        port: 6666,
        memoryMB: 1024,
        content: { shell: true, command: 'sleep 30', env: { A: '1' } },
        condition: { arch: 'x86_64', HOST_NAME: 'web-*' },
      },
      'web',
      subject,
    );
    expect(isRight(result) && result.right).to.deep.equal({
      task: {
        replication: 3,
        port: 6666,
        memoryMB: 1024,
        condition: { arch: 'x86_64', HOST_NAME: 'web-*' },
        content: { name: 'web', shell: true, command: 'sleep 30', env: { A: '1' } },
      },
      warnings: [],
    });
  });

  it('accepts content.name when it is the task name', function () {
    const result = decodeClusterTask(
      { replication: 1, content: { name: 'web', command: 'x' } },
      'web',
      subject,
    );
    expect(isRight(result)).to.equal(true);
  });

  it('reports a content problem under content. with the subject', function () {
    const result = decodeClusterTask({ replication: 1, content: { command: 42 } }, 'web', subject);
    expect(isLeft(result) && result.left.message).to.equal(
      'appmesh/cluster/tasks/web: content.command: expected a non-empty string, got 42',
    );
  });

  it('rejects a content.name other than the task name', function () {
    expect(problemsOf({ replication: 1, content: { name: 'api', command: 'x' } })).to.deep.equal([
      'content.name: expected "web" (the task\'s name) or nothing, got "api"',
    ]);
  });

  it('rejects unknown top-level and content fields with their paths', function () {
    expect(
      problemsOf({ replication: 1, replicas: 2, content: { command: 'x', comand: 'y' } }),
    ).to.have.members(['replicas: unknown field', 'content.comand: unknown field']);
  });

  it('reports every top-level problem together with content problems', function () {
    expect(
      problemsOf({ replication: -1, port: 70000, memoryMB: 1.5, content: { command: '' } }),
    ).to.have.members([
      'replication: expected NonNegativeInt, got -1',
      'port: expected Port, got 70000',
      'memoryMB: expected NonNegativeInt, got 1.5',
      'content.command: expected a non-empty string, got ""',
    ]);
  });

  it('requires content to be an object', function () {
    expect(problemsOf({ replication: 1 })).to.deep.equal([
      'content: expected an App spec object, got nothing',
    ]);
    expect(problemsOf({ replication: 1, content: 'sleep 1' })).to.deep.equal([
      'content: expected an App spec object, got "sleep 1"',
    ]);
  });

  it('rejects condition values that are not strings', function () {
    expect(problemsOf({ replication: 1, content: { command: 'x' }, condition: { arch: 1 } })).to.deep.equal([
      'condition.arch: expected string, got 1',
    ]);
  });

  it('reports a task name that cannot be an app name under content.name', function () {
    expect(problemsOf({ replication: 1, content: { command: 'x' } }, 'a b')).to.deep.equal([
      'content.name: expected AppName, got "a b"',
    ]);
  });

  it('turns ignored App Mesh app fields into warnings under content.', function () {
    const result = decodeClusterTask(
      { replication: 1, content: { command: 'x', docker_image: 'nginx' } },
      'web',
      subject,
    );
    expect(isRight(result) && result.right.warnings).to.deep.equal([
      'appmesh/cluster/tasks/web: content.docker_image: App Mesh field that appmesh does not support; ignored',
    ]);
  });

  it('reports a KV value that is not JSON at the root', function () {
    const result = decodeClusterTaskJson('{nope', 'web', subject);
    expect(isLeft(result) && result.left.problems[0]).to.match(/^\(root\): not valid JSON/);
    expect(isLeft(decodeClusterTaskJson(null, 'web', subject))).to.equal(true);
  });
});
