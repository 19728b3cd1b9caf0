// A mesh that cannot start, a peer that does not answer, or a running gateway
// that `mcp-edge mesh peers|tools|ping` cannot ask, says why in one line a
// user can act on (the CLI prints it without a stack trace).
export class MeshError extends Error {
  override readonly name = 'MeshError';
}
