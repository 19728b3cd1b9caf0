// The models of a gateway from its [models] settings. Nothing here loads a
// model or imports node-llama-cpp: that waits for the first request.
import type { DecideModel, TokenizerFactory } from '../core/index.js';
import type { Logger } from '../telemetry/log.js';
import { OpenAiCloudEngine } from './cloud-engine.js';
import { LlamaEngine } from './llama-engine.js';
import { OnnxEngine } from './onnx-engine.js';
import { ModelError, type LocalEngine } from './engine.js';
import { ModelService, type ModelSettings } from './service.js';

export function createModelService(settings: ModelSettings, log: Logger, decide: DecideModel, tokenizers?: TokenizerFactory): ModelService {
  const cloud = settings.cloud ? new OpenAiCloudEngine(settings.cloud) : undefined;
  return new ModelService(settings, localEngine(settings, log, tokenizers), cloud, decide);
}

/** The local engine of model_path: ONNX for a .onnx file, else GGUF. */
function localEngine(settings: ModelSettings, log: Logger, tokenizers: TokenizerFactory | undefined): LocalEngine | undefined {
  const { modelPath, tokenizerPath } = settings;
  if (!modelPath) return undefined;
  const common = {
    modelPath,
    ...(settings.maxMemoryMb !== undefined ? { maxMemoryBytes: settings.maxMemoryMb * 1024 * 1024 } : {}),
    ...(settings.contextSize !== undefined ? { contextSize: settings.contextSize } : {}),
    ...(settings.threads !== undefined ? { threads: settings.threads } : {}),
  };
  if (/\.onnx$/i.test(modelPath)) {
    if (!tokenizers || !tokenizerPath) throw new Error('an ONNX model needs the core tokenizer and [models] tokenizer_path');
    return new OnnxEngine({ ...common, tokenizerPath, tokenizers });
  }
  if (tokenizerPath) throw new ModelError('bad_request', `[models] tokenizer_path is for an ONNX model (model_path ending in .onnx); ${modelPath} is GGUF, which carries its own tokenizer: remove tokenizer_path`);
  return new LlamaEngine({ ...common, onProgress: (message) => log.info(`models: ${message}`), ...(tokenizers ? { tokenizers } : {}) });
}

export { ModelService } from './service.js';
export type { ModelSettings, CompletionRequest, CompletionAnswer, QueuedCompletionAnswer, FallbackRecord } from './service.js';
export { ModelError } from './engine.js';
export type { ChatMessage } from './engine.js';
export type { DecisionReason, EngineKind, AttemptFailure } from '../core/index.js';
export { chatCompletionsHandler, mcpCompletionsHandler } from './http.js';
export type { ModelPreferences } from './preferences.js';
