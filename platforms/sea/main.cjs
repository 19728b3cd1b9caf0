// The entry of the single-file mcp-edge executable (a Node SEA, built by
// scripts/build-platform.mjs). The executable carries the gateway as one
// asset: host/dist, the component, the production node_modules and the
// native addons built for its architecture, in the archive format of
// platforms/sea/archive.mjs. On first start it unpacks them into a folder
// named after the archive's digest and runs the CLI from there; later starts
// find the folder complete and skip to the CLI.
//
// Where: $MCP_EDGE_APP_DIR, else $XDG_CACHE_HOME/mcp-edge/app, else
// ~/.cache/mcp-edge/app (the systemd unit points it at its CacheDirectory).
//
// CommonJS with built-in modules only: that is what a SEA's main script can use.
'use strict';
const { getAsset } = require('node:sea');
const { createRequire } = require('node:module');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const MAGIC = 'MCPEAPP1';

function appRoot() {
  if (process.env.MCP_EDGE_APP_DIR) return process.env.MCP_EDGE_APP_DIR;
  const cache = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(cache, 'mcp-edge', 'app');
}

/** Writes every file of the archive under `dir`. */
function unpack(archive, dir) {
  const bytes = new Uint8Array(archive);
  const magic = Buffer.from(bytes.subarray(0, 8)).toString('latin1');
  if (magic !== MAGIC) throw new Error(`the embedded app archive starts with "${magic}", not ${MAGIC}`);
  const indexLength = Buffer.from(bytes.buffer, bytes.byteOffset + 8, 4).readUInt32LE(0);
  const index = JSON.parse(Buffer.from(bytes.subarray(12, 12 + indexLength)).toString('utf8'));
  let offset = 12 + indexLength;
  for (const entry of index) {
    const target = path.join(dir, entry.path);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, bytes.subarray(offset, offset + entry.size), { mode: entry.mode });
    offset += entry.size;
  }
}

/** The folder holding the unpacked app, unpacking it first when this digest is not there yet. */
function unpacked() {
  const digest = getAsset('app.sha256', 'utf8').trim();
  const dir = path.join(appRoot(), digest.slice(0, 16));
  if (fs.existsSync(path.join(dir, '.complete'))) return dir;
  // Unpacked beside it and renamed: two first starts at once, or one killed midway, leave no half folder.
  const partial = `${dir}.partial-${process.pid}`;
  fs.rmSync(partial, { recursive: true, force: true });
  try {
    unpack(getAsset('app'), partial);
    fs.writeFileSync(path.join(partial, '.complete'), `${digest}\n`);
    fs.renameSync(partial, dir);
  } catch (error) {
    fs.rmSync(partial, { recursive: true, force: true });
    if (!fs.existsSync(path.join(dir, '.complete'))) {
      process.stderr.write(
        `mcp-edge: cannot unpack the gateway into ${dir}: ${error.message}\n` +
          'Set MCP_EDGE_APP_DIR to a writable folder (the systemd unit uses its CacheDirectory).\n',
      );
      process.exit(1);
    }
  }
  return dir;
}

// A SEA's own require() knows built-in modules only; one made from a file on
// disk loads the unpacked app like any other Node program.
const dir = unpacked();
createRequire(path.join(dir, 'package.json'))('./sea-entry.cjs');
