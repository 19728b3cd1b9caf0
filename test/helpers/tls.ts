// TLS clients for tests: one-off HTTPS requests with chosen TLS settings (each
// on its own connection, so every request is a fresh handshake), and MCP SDK
// clients over HTTPS with a CA and a client certificate.
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll } from 'vitest';
import type { Issued } from './pki.js';

/** TLS settings of a test client: file paths, read here. */
export interface ClientTls {
  /** CA bundle that verifies the server. */
  ca?: string;
  /** Client certificate and key. */
  client?: Issued;
}

/** Node's TLS options for `tls`, plus any raw option (versions, ciphers, a session to resume). */
export function tlsOptions(tls: ClientTls, extra: ConnectionOptions = {}): ConnectionOptions {
  return {
    ...(tls.ca ? { ca: readFileSync(tls.ca) } : {}),
    ...(tls.client ? { cert: readFileSync(tls.client.cert), key: readFileSync(tls.client.key) } : {}),
    ...extra,
  };
}

export interface HttpsAnswer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
  /** The connection it came on, for its protocol, cipher, peer certificate, session. */
  socket: TLSSocket;
}

/** One request on a fresh connection; rejects with the TLS or socket error when the connection fails. */
export function httpsRequest(url: string, options: ConnectionOptions, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ...options, agent: false, method: init.method ?? 'GET', headers: init.headers ?? {}, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers, socket: res.socket as TLSSocket }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', reject);
    req.end(init.body);
  });
}

/** The error of a request expected to fail; throws when it succeeds. */
export async function refusal(promise: Promise<HttpsAnswer>): Promise<NodeJS.ErrnoException> {
  try {
    const answer = await promise;
    throw new Error(`expected the connection to be refused, got HTTP ${answer.status}: ${answer.body.slice(0, 200)}`);
  } catch (err) {
    if ((err as Error).message.startsWith('expected the connection')) throw err;
    return err as NodeJS.ErrnoException;
  }
}

const agents: Agent[] = [];
const clients: Client[] = [];
afterAll(async () => {
  await Promise.allSettled(clients.splice(0).map((c) => c.close()));
  await Promise.allSettled(agents.splice(0).map((a) => a.destroy()));
});

/** A fetch whose https connections use `tls`. */
export function tlsFetch(tls: ClientTls): FetchLike {
  const agent = new Agent({ connect: tlsOptions(tls) });
  agents.push(agent);
  return (url, init) => undiciFetch(url, { ...init, dispatcher: agent } as Parameters<typeof undiciFetch>[1]) as unknown as Promise<Response>;
}

/** An MCP SDK client connected over HTTPS with `tls`; closed after the test file. */
export async function connectTlsClient(url: string, tls: ClientTls): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const client = new Client({ name: 'tls-test-client', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(url), { fetch: tlsFetch(tls) });
  await client.connect(transport);
  clients.push(client);
  return { client, transport };
}

/** The JSON-RPC initialize request body, for raw requests. */
export const INITIALIZE = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });

/** Headers of a raw MCP POST. */
export const MCP_POST_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
