// The models of a gateway from its [models] settings. Nothing here loads a
// model or imports node-llama-cpp: that waits for the first request.
import type { DecideModel, TokenizerFactory } from '../core/index.js';
import type { Logger } from '../telemetry/log.js';
import { OpenAiCloudEngine } from './cloud-engine.js';
import { LlamaEngine } from './llama-engine.js';
import { ModelService, type ModelSettings } from './service.js';

export function createModelService(settings: ModelSettings, log: Logger, decide: DecideModel, tokenizers?: TokenizerFactory): ModelService {
  const local = settings.modelPath
    ? new LlamaEngine({
        modelPath: settings.modelPath,
        ...(settings.maxMemoryMb !== undefined ? { maxMemoryBytes: settings.maxMemoryMb * 1024 * 1024 } : {}),
        ...(settings.contextSize !== undefined ? { contextSize: settings.contextSize } : {}),
        ...(settings.threads !== undefined ? { threads: settings.threads } : {}),
        onProgress: (message) => log.info(`models: ${message}`),
        ...(tokenizers ? { tokenizers } : {}),
      })
    : undefined;
  const cloud = settings.cloud ? new OpenAiCloudEngine(settings.cloud) : undefined;
  return new ModelService(settings, local, cloud, decide);
}

export { ModelService } from './service.js';
export type { ModelSettings, CompletionRequest, CompletionAnswer, FallbackRecord } from './service.js';
export { ModelError } from './engine.js';
export type { ChatMessage } from './engine.js';
export type { DecisionReason, EngineKind, AttemptFailure } from '../core/index.js';
export { chatCompletionsHandler, mcpCompletionsHandler } from './http.js';
export type { ModelPreferences } from './preferences.js';
