// The typed facade over the edge-core component. Everything the host asks of the
// Rust core goes through here; nothing else imports ./generated.
import { instantiate, type Root } from './generated/edge-core.js';
import { wrapCodec, type Codec } from './codec.js';
import { coreInstanceRecorder, DirectCodec } from './direct.js';
import { DirectRouter } from './direct-router.js';
import { createModelRouter, type DecideModel } from './model-router.js';
import { createRouterFactory, type CoreRouter, type RouterOptions } from './router.js';
import { wrapTokenizer, type TokenizerFactory } from './tokenizer.js';

/** Compiles one core wasm module of the component, given its file name. */
export type CompileCoreModule = (fileName: string) => Promise<WebAssembly.Module>;

export interface LoadCoreOptions {
  /** How to fetch and compile the component's core module; Node's file loader by default. */
  compile?: CompileCoreModule;
  /** false: every codec and router call through jco's bindings (no direct lane, see direct.ts); for tests and benches. */
  direct?: boolean;
}

/** A loaded, instantiated edge-core component. */
export interface EdgeCore {
  /** Version of the Rust edge-core crate inside the component. */
  readonly version: string;
  /** Compile-time features of the component, e.g. "simd128". */
  readonly features: readonly string[];
  /** Frames, checksums and (as they land) zstd/lz4 compression. */
  readonly codec: Codec;
  /** How codec pack/unpack reach the core: the direct lane (direct.ts), or jco's bindings only. */
  readonly codecLane: 'direct' | 'jco';
  /** How the router's begin and recordResult reach the core: the direct lane (direct-router.ts), or jco's bindings only. */
  readonly routerLane: 'direct' | 'jco';
  /** Creates a router: replicas ranked by live statistics. */
  readonly createRouter: (options?: RouterOptions) => CoreRouter;
  /** Which engine serves a completion's next attempt (local model or cloud), and why. */
  readonly decideModel: DecideModel;
  /** Loads BPE vocabularies (tiktoken ranks, tokenizer.json) into exact tokenizers. */
  readonly tokenizer: TokenizerFactory;
  /** The raw jco bindings, for the facades of other interfaces. */
  readonly exports: Root;
}

const generatedDir = new URL('./generated/', import.meta.url);

/** Reads the component's core module from disk next to this file (Node). */
export const compileFromDisk: CompileCoreModule = async (fileName) => {
  const { readFile } = await import('node:fs/promises');
  return WebAssembly.compile(await readFile(new URL(fileName, generatedDir)));
};

/** Instantiates the component. The component imports nothing, so no shim is needed. */
export async function loadCore(options: LoadCoreOptions = {}): Promise<EdgeCore> {
  const compile = options.compile ?? compileFromDisk;
  const recorder = coreInstanceRecorder();
  const exports = await instantiate(compile, {}, recorder.instantiateCore);
  const direct = options.direct === false ? undefined : DirectCodec.over(recorder.record());
  const directRouter = options.direct === false ? undefined : DirectRouter.over(recorder.recordRouter());
  return {
    version: exports.info.version(),
    features: exports.info.features(),
    codec: wrapCodec(exports.codec, direct),
    codecLane: direct ? 'direct' : 'jco',
    routerLane: directRouter ? 'direct' : 'jco',
    createRouter: createRouterFactory(exports.router, directRouter),
    decideModel: createModelRouter(exports.modelRouter),
    tokenizer: wrapTokenizer(exports.tokenizer),
    exports,
  };
}

/** Size in bytes of the built component (from the build stamp), for /health. */
export async function componentSize(): Promise<number | undefined> {
  try {
    const { readFile } = await import('node:fs/promises');
    const stamp = JSON.parse(await readFile(new URL('STAMP.json', generatedDir), 'utf8')) as { componentBytes?: number };
    return stamp.componentBytes;
  } catch {
    return undefined;
  }
}

export { CoreError } from './errors.js';
export type { Codec, PackOptions, FrameInfo, Algorithm } from './codec.js';
export type { CoreRouter, RouterOptions, ProviderWeights, ProviderRouteStats, Outcome, PowerMode } from './router.js';
export type { DecideModel, ModelDecision, ModelDecisionInput, ModelRefusal, EngineKind, EnginePreferences, AttemptFailure, DecisionReason, TokenPrices, EngineCosts } from './model-router.js';
export type { Tokenizer, TokenizerFactory, SpecialToken, EncodeOptions, Truncation } from './tokenizer.js';
