// The entry behind the npm scripts. It picks the Node to run under (bringing
// the project's own when the machine's is too old, see node.mjs), makes the
// clone runnable (setup.mjs), then runs the command in this same process.
//
//   node scripts/run.mjs serve [mcp-edge options]   npm start
//   node scripts/run.mjs test                       npm test
//   node scripts/run.mjs check | bench | build      npm run check | bench | build
//   node scripts/run.mjs platform linux-arm64       npm run build:linux-arm64 (see build-platform.mjs)
//   node scripts/run.mjs browser | release          npm run build:browser | release (platforms/README.md)
//
// Plain Node with no dependencies, so the machine's old Node can start it.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { root, fail } from './lib.mjs';
import { chooseNode, explainChoice } from './node.mjs';

/** What each command runs after setup, with the arguments it always gets. */
const COMMANDS = {
  serve: ['host/bin/mcp-edge.js', 'serve'],
  test: ['scripts/test.mjs'],
  check: ['scripts/check.mjs'],
  bench: ['bench/run.mjs'],
  platform: ['scripts/build-platform.mjs'],
  browser: ['scripts/build-browser.mjs'],
  release: ['scripts/release.mjs'],
  build: null,
};

/** Runs this script again under `nodePath`, passing signals on, and exits as it does. */
function rerunUnder(nodePath, env) {
  const child = spawn(nodePath, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit', env });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 1)));
}

const [command = 'build', ...rest] = process.argv.slice(2);
if (!Object.hasOwn(COMMANDS, command)) fail(`unknown command "${command}"; use one of: ${Object.keys(COMMANDS).join(', ')}`);

const node = chooseNode();
// Children (npm, node-gyp, test fixtures started as `node`) find the same Node first on PATH.
const env = { ...process.env, PATH: `${dirname(node.path)}${delimiter}${process.env.PATH ?? ''}` };
if (node.path !== process.execPath) {
  explainChoice(node);
  rerunUnder(node.path, env);
} else {
  process.env.PATH = env.PATH;
  const { setup } = await import('./setup.mjs');
  setup();
  const target = COMMANDS[command];
  if (target) {
    const [script, ...args] = target;
    process.argv = [process.execPath, join(root, script), ...args, ...rest];
    await import(pathToFileURL(join(root, script)).href);
  }
}
