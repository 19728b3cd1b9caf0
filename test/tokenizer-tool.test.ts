// Token counting as a product feature: the gateway's built-in `count_tokens`
// MCP tool (the real CLI over Streamable HTTP) and the embedding API function.
import { afterAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { getEncoding } from 'js-tiktoken';
import { countTokens, getTokenizer } from '../host/src/index.js';
import { startServeCli } from './helpers/processes.js';

const clients: Client[] = [];
afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
});

const PROMPT = 'Summarise the offline queue: 3 calls waiting, oldest 12 minutes. 日本語も少し。';

describe('count_tokens built-in tool', () => {
  it('is listed and counts exactly as js-tiktoken, with a fits verdict against a budget', async () => {
    // The reference counts first: js-tiktoken takes seconds to load, longer than
    // the server keeps an idle keep-alive socket open.
    const want = Object.fromEntries(
      ['cl100k_base', 'o200k_base'].map((t) => [t, getEncoding(t as 'cl100k_base').encode(PROMPT, [], []).length]),
    );
    const { url } = await startServeCli();
    const client = new Client({ name: 'tokenizer-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(url)));
    clients.push(client);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toContain('count_tokens');

    for (const [tokenizer, tokens] of Object.entries(want)) {
      const result = await client.callTool({ name: 'count_tokens', arguments: { text: PROMPT, tokenizer, max_tokens: tokens - 1 } });
      expect(result.isError).toBeFalsy();
      expect(result.structuredContent).toMatchObject({ tokenizer, tokens, bytes: Buffer.byteLength(PROMPT), fits: false });
    }

    const unknown = await client.callTool({ name: 'count_tokens', arguments: { text: 'x', tokenizer: 'nope' } });
    expect(unknown.isError).toBe(true);
    expect((unknown.content as Array<{ text: string }>)[0]!.text).toMatch(/unknown tokenizer "nope"; known: cl100k_base/);
  }, 60_000);
});

describe('embedding API', () => {
  it('countTokens and getTokenizer agree with js-tiktoken', async () => {
    expect(await countTokens(PROMPT)).toBe(getEncoding('cl100k_base').encode(PROMPT, [], []).length);
    expect(await countTokens(PROMPT, { tokenizer: 'o200k_base' })).toBe(getEncoding('o200k_base').encode(PROMPT, [], []).length);
    const tok = await getTokenizer('cl100k_base');
    expect(Array.from(tok.encode(PROMPT))).toEqual(getEncoding('cl100k_base').encode(PROMPT, [], []));
    expect(await getTokenizer('cl100k_base')).toBe(tok);
  }, 60_000);
});
