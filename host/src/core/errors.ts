// Errors that cross the WIT boundary arrive as the WIT variant ({ tag, val }).
// The host turns them into one typed error with a message that says what to do.

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
    // jco throws a result's error case either bare or wrapped as ComponentError.payload.
    const payload = isVariant(err) ? err : (err as { payload?: unknown } | null)?.payload;
    if (isVariant(payload)) throw new CoreError(payload.tag, describe(payload), payload.val);
    throw err;
  }
}
