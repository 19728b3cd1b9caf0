// Where local models are looked up by name ([models] local_model): the user's
// model cache, shared by every gateway of the user and by the test setup
// (scripts/models.mjs fetches the test model into the same folder; keep the two in step).
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** $MCP_EDGE_MODEL_CACHE, else $XDG_CACHE_HOME/mcp-edge/models, else ~/.cache/mcp-edge/models. */
export function defaultModelCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.MCP_EDGE_MODEL_CACHE) return resolve(env.MCP_EDGE_MODEL_CACHE);
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'mcp-edge', 'models');
}

/** The file of a model name in the cache: "SmolLM2-135M-Instruct.Q4_1" or the same with .gguf. */
export function cachedModelPath(name: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(defaultModelCacheDir(env), name.toLowerCase().endsWith('.gguf') ? name : `${name}.gguf`);
}
