// The tokenizer.json files of [tokenizers], loaded when the gateway starts, so
// that a missing or wrong file stops the start with its key instead of
// failing a later count_tokens.
import { ConfigError } from '../config/load.js';
import { CoreError, type EdgeCore } from '../core/index.js';
import { Vocabularies } from './vocabularies.js';

/** Why a configured tokenizer.json cannot be loaded, in words that say what to do. */
function tokenizerProblem(name: string, path: string, err: unknown): string {
  if ((err as NodeJS.ErrnoException).code === 'ENOENT') return `tokenizers.${name}: ${path} does not exist; point it at a Hugging Face tokenizer.json file.`;
  if (err instanceof CoreError) return `tokenizers.${name}: ${path} is not a tokenizer.json mcp-edge can load: ${err.message}`;
  return `tokenizers.${name}: cannot read ${path}: ${(err as Error).message}`;
}

/** Vocabularies with every configured file loaded; a file that fails is a ConfigError naming its key. */
export async function loadConfiguredTokenizers(core: EdgeCore, files: Readonly<Record<string, string>>): Promise<Vocabularies> {
  const vocabularies = new Vocabularies(core, files);
  const loads = Object.entries(files).map(([name, path]) => vocabularies.get(name).then(() => undefined, (err: unknown) => tokenizerProblem(name, path, err)));
  const issues = (await Promise.all(loads)).filter((f): f is string => f !== undefined);
  if (issues.length > 0) throw new ConfigError(`gateway config is invalid:\n  - ${issues.join('\n  - ')}`, issues);
  return vocabularies;
}
