// Errors that cross the WIT boundary arrive as jco ComponentErrors whose
// `payload` is the WIT variant. The host turns them into one typed error.

/** A typed error from the Rust core: `code` is the WIT variant's case name. */
export class CoreError extends Error {
  override readonly name = 'CoreError';
  constructor(
    readonly code: string,
    message: string,
    readonly detail?: unknown,
  ) {
    super(message);
  }
}

interface VariantPayload {
  tag: string;
  val?: unknown;
}

function isVariant(value: unknown): value is VariantPayload {
  return typeof value === 'object' && value !== null && typeof (value as VariantPayload).tag === 'string';
}

/**
 * Calls into the component and rethrows a result error as CoreError, with a
 * message from `describe`. Anything else (a trap) is a bug and propagates.
 */
export function callCore<T>(fn: () => T, describe: (error: VariantPayload) => string): T {
  try {
    return fn();
  } catch (err) {
    const payload = (err as { payload?: unknown }).payload;
    if (isVariant(payload)) throw new CoreError(payload.tag, describe(payload), payload.val);
    throw err;
  }
}
