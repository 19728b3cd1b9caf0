// The ONNX engine's test model, made in test setup: the `onnx` PyPI package
// (pip-installed once into a cache folder, no torch) builds
// test/fixtures/onnx/make-tiny-model.py's model, and its byte-level
// tokenizer.json is written here, next to it.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './processes.js';

/** Where `pip install --target` puts onnx (and numpy, protobuf), reused by later runs. */
const PYTHON_CACHE = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'mcp-edge', 'python-onnx');

/** GPT-2's printable stand-in for each byte, as a byte-level tokenizer.json spells its tokens. */
function byteChars(): string[] {
  let shifted = 0;
  return Array.from({ length: 256 }, (_, b) => {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
    return String.fromCodePoint(printable ? b : 256 + shifted++);
  });
}

/** The tiny model's vocabulary: every byte, then <|im_start|> (256) and <|im_end|> (257); no merges. */
function tokenizerJson(): string {
  const vocab: Record<string, number> = {};
  byteChars().forEach((c, id) => (vocab[c] = id));
  vocab['<|im_start|>'] = 256;
  vocab['<|im_end|>'] = 257;
  return JSON.stringify({
    model: { type: 'BPE', vocab, merges: [] },
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, use_regex: true },
    decoder: { type: 'ByteLevel' },
    added_tokens: [
      { id: 256, content: '<|im_start|>', special: true },
      { id: 257, content: '<|im_end|>', special: true },
    ],
  });
}

/** Writes tiny.onnx and tokenizer.json into `dir`; the model's path. */
export function makeTinyOnnxModel(dir: string): string {
  if (!existsSync(join(PYTHON_CACHE, 'onnx'))) {
    mkdirSync(PYTHON_CACHE, { recursive: true });
    execFileSync('python3', ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--target', PYTHON_CACHE, 'onnx'], { stdio: 'inherit', timeout: 300_000 });
  }
  const model = join(dir, 'tiny.onnx');
  execFileSync('python3', [join(ROOT, 'test/fixtures/onnx/make-tiny-model.py'), model], { env: { ...process.env, PYTHONPATH: PYTHON_CACHE }, timeout: 60_000 });
  writeFileSync(join(dir, 'tokenizer.json'), tokenizerJson());
  return model;
}
