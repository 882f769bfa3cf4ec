// Task conditions against node labels: exact values, whole-value globs, anchored `/regex/`, missing
// labels, and invalid regular expressions, which match nothing and are reported instead of thrown.
import { expect } from 'chai';
import { compileSelector, matchesSelector } from '../../controllers/scheduler/selectors.js';

const web1 = { HOST_NAME: 'web-1', arch: 'x86_64', os_version: 'ubuntu-22.04' };

describe('matchesSelector', function () {
  it('matches exact values, case-sensitively, and needs every entry to match', function () {
    expect(matchesSelector({ arch: 'x86_64' }, web1)).to.be.true;
    expect(matchesSelector({ arch: 'X86_64' }, web1)).to.be.false;
    expect(matchesSelector({ arch: 'x86_64', HOST_NAME: 'web-2' }, web1)).to.be.false;
    expect(matchesSelector({ arch: 'x86_64', HOST_NAME: 'web-1' }, web1)).to.be.true;
  });

  it('selects every node when the condition is empty', function () {
    expect(matchesSelector({}, web1)).to.be.true;
    expect(matchesSelector({}, {})).to.be.true;
  });

  it('matches a glob against the whole value, `*` for any run and `?` for one character', function () {
    expect(matchesSelector({ HOST_NAME: 'web-*' }, web1)).to.be.true;
    expect(matchesSelector({ HOST_NAME: 'web-?' }, web1)).to.be.true;
    expect(matchesSelector({ HOST_NAME: 'web-??' }, web1)).to.be.false;
    expect(matchesSelector({ HOST_NAME: 'web' + '*' }, { HOST_NAME: 'web' })).to.be.true;
    expect(matchesSelector({ HOST_NAME: 'eb-*' }, web1)).to.be.false;
    expect(matchesSelector({ os_version: 'ubuntu-2?.04' }, web1)).to.be.true;
  });

  it('treats regular-expression characters in a glob literally', function () {
    expect(matchesSelector({ os_version: 'ubuntu-22.*' }, web1)).to.be.true;
    expect(matchesSelector({ os_version: 'ubuntu-22.*' }, { os_version: 'ubuntu-22X04' })).to.be.false;
    expect(matchesSelector({ zone: '(a|b)*' }, { zone: 'a' })).to.be.false;
    expect(matchesSelector({ zone: '(a|b)*' }, { zone: '(a|b)-east' })).to.be.true;
  });

  it('anchors a /regex/ to the whole value', function () {
    expect(matchesSelector({ HOST_NAME: '/web-[0-9]+/' }, web1)).to.be.true;
    expect(matchesSelector({ HOST_NAME: '/web-1/' }, { HOST_NAME: 'web-10' })).to.be.false;
    expect(matchesSelector({ HOST_NAME: '/eb-1/' }, web1)).to.be.false;
    expect(matchesSelector({ HOST_NAME: '/.*eb-1.*/' }, web1)).to.be.true;
    expect(matchesSelector({ arch: '/x86_64|aarch64/' }, { arch: 'aarch64' })).to.be.true;
  });

  it('keeps the anchors when the expression has a top-level alternation or parentheses', function () {
    expect(matchesSelector({ arch: '/x86|arm/' }, { arch: 'x86_64' })).to.be.false;
    expect(matchesSelector({ arch: '/a)|(b/' }, { arch: 'zzb' })).to.be.false;
  });

  it('reads a value that is a lone slash or has one slash only as an exact string', function () {
    expect(matchesSelector({ path: '/' }, { path: '/' })).to.be.true;
    expect(matchesSelector({ path: '/usr' }, { path: '/usr' })).to.be.true;
  });

  it('never matches a missing label, whatever the pattern', function () {
    expect(matchesSelector({ gpu: 'true' }, web1)).to.be.false;
    expect(matchesSelector({ gpu: '*' }, web1)).to.be.false;
    expect(matchesSelector({ gpu: '/.*/' }, web1)).to.be.false;
    expect(matchesSelector({ constructor: '*' }, web1)).to.be.false;
  });

  it('matches an empty label value only with a pattern that allows it', function () {
    expect(matchesSelector({ role: '' }, { role: '' })).to.be.true;
    expect(matchesSelector({ role: '*' }, { role: '' })).to.be.true;
    expect(matchesSelector({ role: '?' }, { role: '' })).to.be.false;
  });
});

describe('compileSelector', function () {
  it('turns an invalid regular expression into a reported problem that matches nothing', function () {
    const selector = compileSelector({ HOST_NAME: '/[/', arch: 'x86_64' });
    expect(selector(web1)).to.be.false;
    expect(selector({ HOST_NAME: '[', arch: 'x86_64' })).to.be.false;
    expect(selector.problems).to.have.length(1);
    expect(selector.problems[0]).to.match(
      /^condition HOST_NAME: invalid regular expression \/\[\/ \(.+\); no node can match it$/,
    );
  });

  it('lists problems in label order and none for valid conditions', function () {
    expect(compileSelector({ b: '/(/', a: '/*/' }).problems.map((p) => p.split(':')[0])).to.deep.equal([
      'condition a',
      'condition b',
    ]);
    expect(compileSelector({ HOST_NAME: '/web-.*/', arch: 'x86_*' }).problems).to.deep.equal([]);
  });

  it('can be reused across many nodes with the same answers', function () {
    const selector = compileSelector({ HOST_NAME: '/web-[13]/' });
    const hosts = ['web-1', 'web-2', 'web-3', 'web-1', 'web-4'].map((HOST_NAME) => selector({ HOST_NAME }));
    expect(hosts).to.deep.equal([true, false, true, true, false]);
  });
});
