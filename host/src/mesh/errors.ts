// A mesh that cannot start says why in one line a user can act on (the CLI
// prints it without a stack trace).
export class MeshError extends Error {
  override readonly name = 'MeshError';
}
