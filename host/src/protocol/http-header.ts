// What may go into a header line the gateway writes: a name that is an HTTP
// token (RFC 9110) and a value without a line break or NUL, either of which
// would end the line, or the head, where it should not (header injection).
// Checked where a configured header is written (providers/upstream/lean-socket.ts)
// and when the config is read, so that a bad one is refused at start.

/** A header value that would end the header line, or the head, where it should not. */
const UNSAFE = /[\r\n\0]/;
/** A header name: an HTTP token, nothing that could end or split the line. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Why the header `name: value` cannot be written, or undefined when it can. */
export function headerProblem(name: string, value: string): string | undefined {
  if (!TOKEN.test(name)) return `header name "${name.replace(/[^\x20-\x7e]/g, '?')}" is not an HTTP token`;
  if (UNSAFE.test(value)) return `header "${name}" holds a line break or NUL`;
  return undefined;
}
