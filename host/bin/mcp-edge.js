#!/usr/bin/env node
// Entry point of the mcp-edge command; the CLI itself is host/src/cli.ts.
//
// mcp-edge needs Node 22.13 or newer. A client configured with plain `node`
// (Claude Desktop, say) on a machine whose Node is older still works from a
// clone: setup brought a Node of its own into .node/, and this file hands the
// command over to it, stdio and exit code included.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';

const [major, minor] = process.versions.node.split('.').map(Number);
if (major > 22 || (major === 22 && minor >= 13)) {
  // The compile cache before the CLI loads, and the bundle when current (launch.js).
  const { cliModule, enableStartCache } = await import('./launch.js');
  enableStartCache();
  const { main } = await import(cliModule());
  await main(process.argv.slice(2));
} else {
  const projectNode = fileURLToPath(new URL('../../.node/bin/node', import.meta.url));
  if (!existsSync(projectNode)) {
    process.stderr.write(
      `mcp-edge: needs Node.js 22.13 or newer; this is ${process.versions.node}.\n` +
        'Install Node 22 LTS or newer, or run `npm start` once in the mcp-edge clone (it brings its own Node).\n',
    );
    process.exit(1);
  }
  const child = spawn(projectNode, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 1)));
}
