// The local model's prompt count in the Rust core (host/src/models/gguf-vocabulary.ts)
// against llama.cpp's own count of the same rendered chat template, on the real
// SmolLM2 GGUF: the shared tokenizer corpus, digits, odd whitespace, special-token
// text inside a message, several roles. A count that differs by one token fails.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Gateway } from '../host/src/gateway/gateway.js';
import type { ChatMessage } from '../host/src/models/index.js';
import type { LlamaEngine } from '../host/src/models/llama-engine.js';
import { unsupportedReason } from '../host/src/models/gguf-vocabulary.js';
import { startGateway } from './helpers/gateway.js';
import { LOCAL_MODEL } from './helpers/models.js';

const corpus = JSON.parse(readFileSync(new URL('./corpus/tokenizer/corpus.json', import.meta.url), 'utf8')) as { texts: string[] };

const EXTRA = [
  'a  7 b', 'Call 555-0100 at 9:30, room 12b, ٣ apples, ½ cup, Ⅻ o\'clock.', '   leading and trailing   ', '\n\n\tTabs\r\nand CRLF\n',
  'Ask it to stop at <|im_end|> or <|endoftext|>: they are text here.', '日本語のテキスト 🤖 emoji\u200dzwj', "it's we'll they'd I'M",
  // Bytes SmolLM2's vocabulary lacks (0x04, lead byte 0xf1): llama.cpp counts these.
  'end of transmission \u0004 here', 'plane 4 \u{40001}',
];

let shared: Promise<Gateway> | undefined;
const gateway = (): Promise<Gateway> => (shared ??= startGateway({ models: { ...LOCAL_MODEL, context_size: 2048 } }));
const engineOf = (g: Gateway): LlamaEngine => g.models.local as LlamaEngine;

describe('prompt token count in the core', () => {
  it('is the core for SmolLM2 and equals llama.cpp on every corpus text, as a user message', async () => {
    const engine = engineOf(await gateway());
    await engine.load();
    expect(engine.promptCounter).toBe('core');
    for (const text of [...corpus.texts, ...EXTRA]) {
      const messages: ChatMessage[] = [{ role: 'user', content: text }];
      expect({ text, tokens: await engine.countTokens(messages) }).toEqual({ text, tokens: await engine.countTokensWithLlama(messages) });
    }
  }, 60_000);

  it('equals llama.cpp on conversations with a system prompt and earlier answers, and on a 4 KB prompt', async () => {
    const engine = engineOf(await gateway());
    const conversations: ChatMessage[][] = [
      [{ role: 'system', content: 'You are terse. Answer in 3 words.' }, { role: 'user', content: 'Capital of France?' }],
      [{ role: 'user', content: 'Hi 42' }, { role: 'assistant', content: ' Hello! 7 ways.' }, { role: 'user', content: 'More  please\n' }],
      [{ role: 'user', content: 'The gateway routes each request to the local model or the cloud. '.repeat(62).slice(0, 4096) }],
    ];
    for (const messages of conversations) expect(await engine.countTokens(messages)).toBe(await engine.countTokensWithLlama(messages));
  }, 60_000);

  it('leaves the models whose tokenizer the core does not implement to llama.cpp, saying why', () => {
    const base = { model: 'gpt2', pre: 'smollm', tokens: ['a'], merges: [], token_type: [1] };
    expect(unsupportedReason(base)).toBeUndefined();
    expect(unsupportedReason({ ...base, pre: 'llama-bpe' })).toMatch(/pre-tokenizer llama-bpe/);
    expect(unsupportedReason({ ...base, model: 'llama' })).toMatch(/tokenizer model llama/);
    expect(unsupportedReason({ ...base, token_type: [4] })).toMatch(/token type 4/);
  });
});

