// What any gateway does with each message it forwards, for the two floors
// (floor.mjs, floor-net.mjs): parse it and write it again (to route it and
// rewrite its id). A JSON body whole; an SSE body's data lines one by one.

/**
 * @param {Buffer} body
 * @param {string} type  the message's content-type
 */
export function reserialize(body, type) {
  if (body.length === 0) return body;
  if (type.startsWith('application/json')) return Buffer.from(JSON.stringify(JSON.parse(body.toString('utf8'))));
  if (!type.startsWith('text/event-stream')) return body;
  const lines = body.toString('utf8').split('\n').map((line) => (line.startsWith('data: ') ? `data: ${JSON.stringify(JSON.parse(line.slice(6)))}` : line));
  return Buffer.from(lines.join('\n'));
}
