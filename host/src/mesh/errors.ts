// A mesh that cannot start, a peer that does not answer, or a running gateway
// that `mcp-edge mesh peers|tools|ping` cannot ask, says why in one line a
// user can act on (the CLI prints it without a stack trace).
export class MeshError extends Error {
  override readonly name = 'MeshError';
}

/** Why a context write or update was refused: stable codes, a message that says what to do. */
export type ContextErrorCode = 'unknown-space' | 'bad-name' | 'too-large' | 'space-full' | 'corrupt';

/**
 * A shared context refused a write (a tool's) or an update (a peer's). A
 * peer's refused update is logged and counted, never applied in part: the
 * space stays as it was.
 */
export class ContextError extends Error {
  override readonly name = 'ContextError';
  constructor(
    readonly code: ContextErrorCode,
    message: string,
  ) {
    super(message);
  }
}
