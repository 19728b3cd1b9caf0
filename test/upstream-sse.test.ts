// The SSE parser the upstream resumer reads answers with: an id counts only
// once its event is complete, line ends of every kind and chunk boundaries
// anywhere, and a stream that never ends an event is refused.
import { describe, expect, it } from 'vitest';
import { MAX_EVENT_CHARS, SseParser, sseFrame, StreamText, type SseEvent } from '../host/src/protocol/sse.js';

function parse(chunks: string[]) {
  const seen: (SseEvent | { id: string } | { retry: number })[] = [];
  const parser = new SseParser({ event: (e) => seen.push(e), id: (id) => seen.push({ id }), retry: (retry) => seen.push({ retry }) });
  for (const chunk of chunks) parser.push(chunk);
  return seen;
}

describe('SseParser', () => {
  it('reads a priming event, then messages, with their ids and retry', () => {
    expect(parse(['id: 1:0\nretry: 250\ndata: \n\n', 'id: 1:1\nevent: message\ndata: {"a":1}\n\n'])).toEqual([
      { retry: 250 },
      { id: '1:0' },
      { event: 'message', data: '' },
      { id: '1:1' },
      { event: 'message', data: '{"a":1}' },
    ]);
  });

  it('gives the same events however the text is cut into chunks, with LF, CRLF or CR line ends', () => {
    const text = 'id: 7\r\ndata: one\r\ndata: two\r\n\r\n: a comment\rdata:three\r\rid: 8\ndata: four\n\n';
    const whole = parse([text]);
    expect(whole).toEqual([
      { id: '7' },
      { event: 'message', data: 'one\ntwo' },
      { event: 'message', data: 'three' },
      { id: '8' },
      { event: 'message', data: 'four' },
    ]);
    for (let cut = 1; cut < text.length; cut++) expect(parse([text.slice(0, cut), text.slice(cut)])).toEqual(whole);
    expect(parse([...text])).toEqual(whole);
  });

  it('does not count the id of an event cut off before its blank line', () => {
    expect(parse(['id: 1\ndata: done\n\nid: 2\ndata: half'])).toEqual([{ id: '1' }, { event: 'message', data: 'done' }]);
  });

  it('refuses an event that grows past MAX_EVENT_CHARS without ending', () => {
    const parser = new SseParser({ event: () => undefined, id: () => undefined, retry: () => undefined });
    const line = `data: ${'x'.repeat(1024 * 1024)}\n`;
    expect(() => {
      for (let i = 0; i <= MAX_EVENT_CHARS / (1024 * 1024); i++) parser.push(line);
    }).toThrow(/exceeds/);
  });

  it('writes an event back without id or retry, one data line per line', () => {
    expect(sseFrame({ event: 'message', data: 'a\nb' })).toBe('event: message\ndata: a\ndata: b\n\n');
  });
});

describe('StreamText', () => {
  /** Every way of cutting `bytes` in two and in three, decoded chunk by chunk, against one TextDecoder over the whole stream. */
  function cuts(bytes: Buffer): Buffer[][] {
    const out: Buffer[][] = [[bytes]];
    for (let i = 0; i <= bytes.length; i++) {
      out.push([bytes.subarray(0, i), bytes.subarray(i)]);
      for (let j = i; j <= bytes.length; j++) out.push([bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j)]);
    }
    return out;
  }

  it('gives the text one TextDecoder gives for the whole stream, however it is cut', () => {
    const streams = [
      'data: {"result":{"content":[{"type":"text","text":"plain"}]}}\n\n',
      'data: é€😀 ü\n\n',
      '\ufeffdata: a BOM first\n\n',
      'data: \ufeff inside\n\n',
    ].map((t) => Buffer.from(t, 'utf8'));
    streams.push(Buffer.concat([Buffer.from('data: bad '), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from(' bytes\n\n')]));
    for (const bytes of streams) {
      const whole = new TextDecoder().decode(bytes);
      for (const chunks of cuts(bytes)) {
        const text = new StreamText();
        expect(chunks.map((c) => text.next(c)).join(''), JSON.stringify(chunks.map((c) => c.length))).toBe(whole);
      }
    }
  });
});
