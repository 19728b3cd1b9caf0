// A lean Streamable HTTP MCP client for load generation: plain node:http (or
// node:https for an https URL, with the agent's TLS settings) with
// keep-alive, one session per client, responses taken as JSON or as SSE. The
// SDK client costs more CPU per call, and on a 2-core box the load generator
// must not be what the bench measures.
import http from 'node:http';
import https from 'node:https';

/** node:https for an https URL, else node:http. @param {string} url */
const transportFor = (url) => (url.startsWith('https:') ? https : http);

const PROTOCOL_VERSION = '2025-06-18';

/** @typedef {{ status: number | undefined; headers: import('node:http').IncomingHttpHeaders; text: string }} Reply */
/**
 * A JSON-RPC response as the bench reads it.
 * @typedef {{ id?: number | string; result?: unknown; error?: { code: number; message: string } }} RpcResponse
 */

/**
 * @param {http.Agent} agent
 * @param {string} url
 * @param {Record<string, string>} headers
 * @param {unknown} payload
 * @returns {Promise<Reply>}
 */
function post(agent, url, headers, payload) {
  return new Promise((resolve, reject) => {
    const body = Buffer.from(JSON.stringify(payload));
    const req = transportFor(url).request(url, {
      method: 'POST',
      agent,
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'content-length': body.length,
        ...headers,
      },
    }, (res) => {
      /** @type {Buffer[]} */
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * The JSON-RPC response with `id`, from a JSON body or from the data lines of an SSE body.
 * @param {number} id
 * @param {string | undefined} contentType
 * @param {string} text
 * @returns {RpcResponse | undefined}
 */
export function responseFor(id, contentType, text) {
  if (contentType?.includes('application/json')) {
    const message = JSON.parse(text);
    return Array.isArray(message) ? message.find((/** @type {RpcResponse} */ m) => m.id === id) : message;
  }
  for (const event of text.split(/\r?\n\r?\n/)) {
    const data = event.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
    if (!data) continue;
    const message = JSON.parse(data);
    if (message.id === id) return message;
  }
  return undefined;
}

export class McpHttpClient {
  /**
   * `protocolVersion` to offer at initialize (2025-11-25 for task-augmented calls);
   * `extraHeaders` go with every request (a credential: Authorization).
   * @param {string} url
   * @param {http.Agent} agent
   * @param {Record<string, string>} [extraHeaders]
   */
  constructor(url, agent, protocolVersion = PROTOCOL_VERSION, extraHeaders = {}) {
    this.url = url;
    this.protocolVersion = protocolVersion;
    this.agent = agent;
    this.nextId = 1;
    this.extraHeaders = extraHeaders;
    /** @type {Record<string, string>} */
    this.headers = { ...extraHeaders };
  }

  /**
   * @param {string} method
   * @param {unknown} params
   */
  async request(method, params) {
    const id = this.nextId++;
    const res = await post(this.agent, this.url, this.headers, { jsonrpc: '2.0', id, method, params });
    if (res.status !== 200) throw new Error(`${method}: HTTP ${res.status} ${res.text.slice(0, 200)}`);
    const message = responseFor(id, res.headers['content-type'], res.text);
    if (!message) throw new Error(`${method}: no response with id ${id} in ${res.text.slice(0, 200)}`);
    if (message.error) throw new Error(`${method}: ${message.error.code} ${message.error.message}`);
    return { result: message.result, headers: res.headers };
  }

  async initialize() {
    const answer = await this.request('initialize', {
      protocolVersion: this.protocolVersion,
      capabilities: {},
      clientInfo: { name: 'mcp-edge-bench', version: '0.1.0' },
    });
    const result = /** @type {import('@modelcontextprotocol/sdk/types.js').InitializeResult} */ (answer.result);
    const { headers } = answer;
    const sessionId = headers['mcp-session-id'];
    this.headers = {
      ...this.extraHeaders,
      'mcp-protocol-version': result.protocolVersion,
      ...(typeof sessionId === 'string' ? { 'mcp-session-id': sessionId } : {}),
    };
    const res = await post(this.agent, this.url, this.headers, { jsonrpc: '2.0', method: 'notifications/initialized' });
    if (res.status !== 202 && res.status !== 200) throw new Error(`initialized: HTTP ${res.status}`);
    return result;
  }

  /**
   * @param {string} name
   * @param {Record<string, unknown>} [args]
   */
  async callTool(name, args = {}) {
    const { result } = await this.request('tools/call', { name, arguments: args });
    return /** @type {import('@modelcontextprotocol/sdk/types.js').CallToolResult} */ (result);
  }

  /** Ends the session; a server without sessions may answer 405, which is fine. */
  async close() {
    if (!this.headers['mcp-session-id']) return;
    await /** @type {Promise<void>} */ (new Promise((resolve) => {
      const req = transportFor(this.url).request(this.url, { method: 'DELETE', agent: this.agent, headers: this.headers }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', () => resolve());
      req.end();
    }));
  }
}
