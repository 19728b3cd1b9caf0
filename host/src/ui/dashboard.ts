// The dashboard at /ui ([ui], off unless enabled): a static page, its script
// and its style sheet (host/ui/), served under a strict Content-Security-Policy.
// The page holds no data: it asks the JSON API for everything, with the
// credentials the user signs in with, so it sees exactly what the API would
// show that user, and an unauthenticated visitor sees nothing but the form.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ServerResponse } from 'node:http';
import type { RouteTable } from '../gateway/routes.js';

/** host/ui/, from host/src/ui or host/dist/ui alike. */
const ASSETS = fileURLToPath(new URL('../../ui/', import.meta.url));

/** Scripts and styles from the gateway only, no inline ones; data only from the gateway; no framing, no forms posted elsewhere. */
export const CONTENT_SECURITY_POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const FILES = [
  ['GET /ui', 'index.html', 'text/html; charset=utf-8'],
  ['GET /ui/app.js', 'app.js', 'text/javascript; charset=utf-8'],
  ['GET /ui/app.css', 'app.css', 'text/css; charset=utf-8'],
] as const;

function send(res: ServerResponse, body: Buffer, type: string): void {
  res.writeHead(200, {
    'content-type': type,
    'content-length': body.byteLength,
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
  });
  res.end(body);
}

/** Registers the dashboard's routes; its files are read once, now. */
export function serveDashboard(routes: RouteTable): void {
  for (const [route, file, type] of FILES) {
    let body: Buffer;
    try {
      body = readFileSync(ASSETS + file);
    } catch (err) {
      throw new Error(`the dashboard's file ${ASSETS + file} cannot be read (${(err as Error).message}); reinstall mcp-edge, or set ui.enabled = false`);
    }
    routes.handle(route, (_req, res) => send(res, body, type));
  }
}
