// What every model engine does, local or cloud, and the shapes of a request and
// its answer. The gateway speaks only these types; node-llama-cpp and the
// OpenAI-compatible wire stay inside their engines.

/** One message of a chat. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** A completion request, after the HTTP or npm front end has checked it. */
export interface GenerateRequest {
  messages: ChatMessage[];
  /** Most tokens to generate; capped by [models] max_tokens. */
  maxTokens: number;
  /** 0 is greedy (the same answer every time). */
  temperature: number;
  /** Fixes the sampler's randomness when temperature > 0. */
  seed?: number;
  /** Texts that end the answer where they appear (not part of it); MCP sampling's stopSequences. */
  stop?: string[];
  /** The answer so far, to continue (another engine started it and failed mid-stream). */
  prefix?: string;
  /** Stops the generation (the client went away). */
  signal?: AbortSignal;
  /** One try, no retries: the caller (the offline queue) paces them, honouring the error's retryAfterMs. */
  singleAttempt?: boolean;
}

export type FinishReason = 'stop' | 'length';

/** What one engine produced. */
export interface EngineResult {
  text: string;
  finishReason: FinishReason;
  /** The answer ended at one of the request's stop texts (an engine that cannot tell leaves it out). */
  stoppedBySequence?: boolean;
  promptTokens: number;
  completionTokens: number;
  /** Attempts the engine made (a cloud engine retries 429 and 5xx). */
  attempts?: number;
}

/** Called with each piece of text as it is generated. */
export type OnText = (text: string) => void;

/** An engine that runs a model in this process. */
export interface LocalEngine {
  readonly kind: 'local';
  /** The model's name as answers report it. */
  readonly model: string;
  /** Loads the model (idempotent); throws ModelError when it cannot. */
  load(): Promise<void>;
  /** Frees the model's memory; the next generate loads it again. */
  unload(): Promise<void>;
  readonly loaded: boolean;
  /** The exact number of tokens the prompt of `messages` takes in this model, chat template included. */
  countTokens(messages: ChatMessage[]): Promise<number>;
  /** How many tokens (prompt + answer) the model's context holds. */
  contextLength(): Promise<number>;
  /** Bytes the loaded model and its context take; 0 when unloaded. */
  memoryBytes(): number;
  generate(request: GenerateRequest, onText: OnText): Promise<EngineResult>;
  /** Requests running or waiting for their turn. */
  readonly queueDepth: number;
  /** Measured speeds (moving averages), absent before the first answer. */
  speed(): { tokensPerSecond?: number; promptTokensPerSecond?: number };
}

/** An engine reached over the network. */
export interface CloudEngine {
  readonly kind: 'cloud';
  readonly model: string;
  generate(request: GenerateRequest, onText: OnText): Promise<EngineResult>;
}

/** Why a model could not be used, in words for the user; `code` for programs. */
export class ModelError extends Error {
  constructor(
    readonly code: 'model_not_found' | 'model_too_large' | 'model_load_failed' | 'context_exceeded' | 'no_engine' | 'cloud_offline' | 'cloud_unreachable' | 'cloud_refused' | 'cloud_timeout' | 'cloud_stream_broken' | 'generation_failed' | 'bad_request',
    message: string,
    /** How long the cloud asked to be left alone (its Retry-After on a 429 or 503), in ms. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'ModelError';
  }
}
