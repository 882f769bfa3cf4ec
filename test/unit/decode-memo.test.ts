// DecodeMemo: a value is decoded again only when its raw text changed; deleted keys are forgotten.
import { expect } from 'chai';
import { DecodeMemo } from '../../src/core/decode-memo.js';

describe('DecodeMemo', function () {
  it('decodes a key again only when its raw value changed', function () {
    const memo = new DecodeMemo<number>();
    const decoded: string[] = [];
    const decode = (raw: string) => {
      decoded.push(raw);
      return raw.length;
    };
    expect(memo.get('a', 'xx', decode)).to.equal(2);
    expect(memo.get('a', 'xx', decode)).to.equal(2);
    expect(memo.get('b', 'yyy', decode)).to.equal(3);
    expect(memo.get('a', 'xxxx', decode)).to.equal(4);
    expect(decoded).to.deep.equal(['xx', 'yyy', 'xxxx']);
  });

  it('forgets keys that were not asked for since the last sweep', function () {
    const memo = new DecodeMemo<string>();
    const decode = (raw: string) => raw.toUpperCase();
    memo.get('a', 'x', decode);
    memo.get('b', 'y', decode);
    memo.sweep();
    expect(memo.size).to.equal(2);
    memo.get('a', 'x', decode);
    memo.sweep();
    expect(memo.size).to.equal(1);
    let calls = 0;
    memo.get('b', 'y', (raw) => {
      calls += 1;
      return raw;
    });
    expect(calls, 'b was forgotten, so it is decoded again').to.equal(1);
  });
});
