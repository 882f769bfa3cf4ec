// Command lines without a shell: split like a shell splits words, and refused with a hint when they
// need a shell to mean what they say.
import { expect } from 'chai';
import { CommandLineError, commandLineFor, splitCommand } from '../../src/process/command-line.js';

describe('splitCommand', function () {
  it('splits on whitespace and respects quotes and escapes', function () {
    expect(splitCommand('sleep 30')).to.deep.equal({ file: 'sleep', args: ['30'] });
    expect(splitCommand(`echo "a b" 'c d' e\\ f ''`)).to.deep.equal({
      file: 'echo',
      args: ['a b', 'c d', 'e f', ''],
    });
    expect(splitCommand(`node -e "console.log('hi')"`)).to.deep.equal({
      file: 'node',
      args: ['-e', "console.log('hi')"],
    });
    expect(splitCommand(`echo '$HOME' \\$PATH`)).to.deep.equal({ file: 'echo', args: ['$HOME', '$PATH'] });
  });

  for (const [command, hint] of [
    ['ps aux | grep x', 'operator "|"'],
    ['make && make install', 'operator "&&"'],
    ['echo hi > /tmp/out', 'operator ">"'],
    ['sleep 300 & wait', 'operator "&"'],
    ['a; b', 'operator ";"'],
    ['echo $HOME', '$HOME'],
    ['ls *.log', '*.log'],
    ['curl http://x/#top', '"#"'],
    ['FOO=1 run', 'FOO=1'],
  ]) {
    it(`refuses ${JSON.stringify(command)} and says to set shell: true`, function () {
      expect(() => splitCommand(command ?? ''))
        .to.throw(CommandLineError, hint)
        .and.to.match(/shell: true/);
    });
  }

  it('refuses an empty command', function () {
    expect(() => splitCommand('   ')).to.throw(CommandLineError, 'command is empty');
  });

  it('names the field in its message', function () {
    expect(() => splitCommand('a | b', 'health_check_cmd')).to.throw(/^health_check_cmd "a \| b" uses/);
  });
});

describe('commandLineFor', function () {
  it('runs the whole text through /bin/sh -c when shell is true', function () {
    expect(commandLineFor('sleep 300 & sleep 300 & wait', true)).to.deep.equal({
      file: '/bin/sh',
      args: ['-c', 'sleep 300 & sleep 300 & wait'],
    });
  });

  it('splits the text when shell is false or not given', function () {
    expect(commandLineFor('sleep 1', false)).to.deep.equal({ file: 'sleep', args: ['1'] });
    expect(commandLineFor('sleep 1', undefined)).to.deep.equal({ file: 'sleep', args: ['1'] });
  });
});
