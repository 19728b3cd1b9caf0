// A request the gateway refuses on purpose: the HTTP status and JSON-RPC error
// code to answer with, a message that says what to do, and any extra headers.
// Thrown from body reading, message checks, authentication and the /mcp
// endpoint alike; answerError (gateway/http.ts) turns it into the answer.
export class HttpRefusal extends Error {
  override readonly name = 'HttpRefusal';
  constructor(
    readonly status: number,
    readonly rpcCode: number,
    message: string,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}
