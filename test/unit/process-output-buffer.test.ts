// The output buffer keeps the newest lines within its limits, numbers lines from the app's creation,
// and tells a reader when lines it asked for were already dropped. The splitter turns chunks into lines.
import { expect } from 'chai';
import { LineSplitter } from '../../src/process/line-splitter.js';
import { OutputBuffer } from '../../src/process/output-buffer.js';

describe('OutputBuffer', function () {
  it('keeps the newest lines when over the line limit', function () {
    const buffer = new OutputBuffer(3, 1_000);
    for (let i = 1; i <= 5; i++) buffer.append(`line ${i}`);
    expect(buffer.read()).to.deep.equal({
      lines: ['line 3', 'line 4', 'line 5'],
      nextOffset: 5,
      truncated: true,
    });
  });

  it('keeps the newest lines when over the byte limit', function () {
    const buffer = new OutputBuffer(100, 10);
    for (const line of ['aaaa', 'bbbb', 'cccc']) buffer.append(line);
    expect(buffer.read().lines).to.deep.equal(['bbbb', 'cccc']);
  });

  it('reads from an offset, and says nothing was lost when nothing was', function () {
    const buffer = new OutputBuffer(10, 1_000);
    for (let i = 0; i < 4; i++) buffer.append(`l${i}`);
    expect(buffer.read(2)).to.deep.equal({ lines: ['l2', 'l3'], nextOffset: 4, truncated: false });
    expect(buffer.read(4)).to.deep.equal({ lines: [], nextOffset: 4, truncated: false });
    expect(buffer.read(99)).to.deep.equal({ lines: [], nextOffset: 4, truncated: false });
  });

  it('marks a read truncated when lines from its offset were dropped', function () {
    const buffer = new OutputBuffer(2, 1_000);
    for (let i = 0; i < 6; i++) buffer.append(`l${i}`);
    expect(buffer.read(1)).to.deep.equal({ lines: ['l4', 'l5'], nextOffset: 6, truncated: true });
    expect(buffer.read(4)).to.deep.equal({ lines: ['l4', 'l5'], nextOffset: 6, truncated: false });
  });

  it('cuts a single line longer than the byte limit, keeping characters whole', function () {
    const buffer = new OutputBuffer(10, 5);
    buffer.append('ééééé'); // 10 bytes
    const [line] = buffer.read().lines;
    expect(line).to.equal('éé');
  });

  it('stays bounded and consistent through many appends', function () {
    const buffer = new OutputBuffer(1_000, 1_000_000);
    for (let i = 0; i < 50_000; i++) buffer.append(`line ${i}`);
    const chunk = buffer.read(49_990);
    expect(chunk.lines).to.have.length(10);
    expect(chunk.lines[0]).to.equal('line 49990');
    expect(buffer.firstOffset).to.equal(49_000);
  });

  it('applies smaller limits at once when resized', function () {
    const buffer = new OutputBuffer(10, 1_000);
    for (let i = 0; i < 5; i++) buffer.append(`l${i}`);
    buffer.resize(2, 1_000);
    expect(buffer.read().lines).to.deep.equal(['l3', 'l4']);
  });
});

describe('LineSplitter', function () {
  const split = (chunks: Array<Buffer | string>, maxLineChars?: number) => {
    const lines: string[] = [];
    const splitter = new LineSplitter((line) => lines.push(line), maxLineChars);
    for (const chunk of chunks) splitter.write(chunk);
    splitter.end();
    return lines;
  };

  it('joins lines split across chunks and drops CR of CRLF', function () {
    expect(split(['hel', 'lo\r\nwor', 'ld\n', 'tail'])).to.deep.equal(['hello', 'world', 'tail']);
  });

  it('keeps a UTF-8 character split across chunks whole', function () {
    const bytes = Buffer.from('ü\n');
    expect(split([bytes.subarray(0, 1), bytes.subarray(1)])).to.deep.equal(['ü']);
  });

  it('cuts a line that never ends into bounded pieces', function () {
    expect(split(['x'.repeat(25)], 10)).to.deep.equal(['x'.repeat(10), 'x'.repeat(10), 'x'.repeat(5)]);
  });
});
