// Decoders: good values pass, bad values give one line per problem naming its path.
import { expect } from 'chai';
import { isLeft, isRight } from 'fp-ts/lib/Either.js';
import { ClusterTask, LeaderRecord, NodeTopology } from '../../api/cluster.js';
import { DecodeError, decode, decodeJson, decodeOrThrow } from '../../api/decode.js';

const problems = (result: ReturnType<typeof decode>): readonly string[] =>
  isLeft(result) ? result.left.problems : [];

describe('decode', function () {
  it('accepts a valid App Mesh cluster task', function () {
    const result = decode(
      ClusterTask,
      {
        replication: 3,
        port: 6666,
        memoryMB: 1024,
        content: { name: 'myapp', shell: true, command: 'sleep 30' },
        condition: { arch: 'x86_64', HOST_NAME: 'web-*' },
      },
      'appmesh/cluster/tasks/myapp',
    );
    expect(isRight(result)).to.equal(true);
  });

  it('names the field path and the offending value', function () {
    const result = decode(
      ClusterTask,
      { replication: 1, content: { command: 42 } },
      'appmesh/cluster/tasks/web',
    );
    expect(problems(result)).to.deep.equal(['content.command: expected string, got 42']);
    expect(isLeft(result) && result.left.message).to.equal(
      'appmesh/cluster/tasks/web: content.command: expected string, got 42',
    );
  });

  it('reports every problem, not just the first', function () {
    const result = decode(ClusterTask, { replication: -1, port: 70000, content: {} }, 'task');
    expect(problems(result)).to.have.members([
      'replication: expected NonNegativeInt, got -1',
      'content.command: expected string, got nothing',
      'port: expected Port, got 70000',
    ]);
  });

  it('rejects a name that could not be a KV key segment', function () {
    const result = decode(LeaderRecord, { node: 'a/b', since: '2026-01-01T00:00:00Z' }, 'leader');
    expect(problems(result)).to.deep.equal(['node: expected NodeName, got "a/b"']);
  });

  it('indexes into arrays in the path', function () {
    const result = decode(NodeTopology, [{ app: 'ok', schedule_time: 't' }, { app: 7 }], 'topology/n1');
    expect(problems(result)).to.have.members([
      '1.app: expected TaskName, got 7',
      '1.schedule_time: expected string, got nothing',
    ]);
  });

  it('reports invalid JSON as a problem at the root', function () {
    const result = decodeJson(LeaderRecord, '{"node": ', 'appmesh/cluster/leader');
    expect(problems(result)).to.have.length(1);
    expect(problems(result)[0]).to.match(/^\(root\): not valid JSON/);
  });

  it('shortens long string values in messages', function () {
    const result = decode(LeaderRecord, { node: 'x'.repeat(300), since: 's' }, 'leader');
    const [line] = problems(result);
    expect(line?.length).to.be.lessThan(100);
  });

  it('throws a DecodeError from decodeOrThrow', function () {
    expect(() => decodeOrThrow(LeaderRecord, null, 'leader')).to.throw(
      DecodeError,
      'leader: (root): expected LeaderRecord, got null',
    );
  });
});
