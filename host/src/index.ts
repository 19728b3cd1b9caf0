// The npm embedding API of mcp-edge.
//
//   import { createGateway } from 'mcp-edge';
//   const gateway = await createGateway({ config: { gateway: { bind_address: '127.0.0.1:0' } } });
//   console.log(gateway.url);   // http://127.0.0.1:<port>/mcp
//   gateway.plugins.registerTool(defineTool({ ... }));   // see docs/plugins.md
//   await gateway.close();

export { createGateway, Gateway } from './gateway/gateway.js';
export { defaultDataDir } from './config/resolve.js';
export type { GatewaySettings } from './config/resolve.js';
export type { GatewayOptions, HealthReport } from './gateway/gateway.js';
export { loadCore, CoreError } from './core/index.js';
export type { EdgeCore, Codec, PackOptions, FrameInfo, Algorithm } from './core/index.js';
export { ConfigError, loadConfigFile, parseConfig, validateConfig } from './config/load.js';
export type { EdgeConfig, EdgeConfigInput } from './config/schema.js';
export { defineTool, ToolRegistry, UnknownToolError } from './tools/registry.js';
export type { ToolDefinition, ToolContext } from './tools/registry.js';
export type { JsonObjectSchema, ObjectSchema } from './tools/schema.js';
export type { SwitchState } from './tools/switchboard.js';
export { definePlugin, LocalProvider, UnknownCapabilityError } from './providers/local/provider.js';
export type { Plugin, LocalStatus } from './providers/local/provider.js';
export { ResourceNotFoundError } from './providers/local/resources.js';
export type { ResourceDefinition, ResourceTemplateDefinition } from './providers/local/resources.js';
export { PromptError } from './providers/local/prompts.js';
export type { PromptDefinition } from './providers/local/prompts.js';
export { filesPlugin } from './plugins/files.js';
export { sqlitePlugin } from './plugins/sqlite.js';
export { shellPlugin } from './plugins/shell.js';
export { PluginConfigError, Refusal, type RefusalCode } from './plugins/common.js';
export { createLogger } from './telemetry/log.js';
export type { Logger, LogLevel, LogFormat, LogFormatChoice, LogControl } from './telemetry/log.js';
export { StorageError } from './storage/database.js';
export { VERSION } from './version.js';
export { countTokens, getTokenizer } from './tokenizer/api.js';
export type { TokenizerChoice } from './tokenizer/api.js';
export { loadTiktoken, loadTokenizerJson, Vocabularies, TIKTOKEN_ENCODINGS } from './tokenizer/vocabularies.js';
export type { TiktokenEncoding } from './tokenizer/vocabularies.js';
export type { Tokenizer, TokenizerFactory, SpecialToken, EncodeOptions, Truncation } from './core/index.js';
export { OfflineQueue, QueueError, DestinationError, IdempotencyMemory, IDEMPOTENCY_META_KEY, queueMetrics } from './queue/index.js';
export type { Deliverer, QueueStatus } from './queue/index.js';
export { openDatabase, openDatabaseFile } from './storage/database.js';
export { createCodec, CodecDictionary } from './codec/index.js';
export type { EdgeCodec, CreateCodecOptions, EngineName } from './codec/index.js';
export { ModelError } from './models/engine.js';
export { SAMPLING_META_KEY } from './models/sampling.js';
export type { CompletionRequest, CompletionAnswer, QueuedCompletionAnswer, FallbackRecord, ChatMessage } from './models/index.js';
export type { ModelPreferences } from './models/preferences.js';
