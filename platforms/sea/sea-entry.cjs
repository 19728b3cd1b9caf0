// Runs inside the folder the single-file executable unpacked (see main.cjs):
// the mcp-edge CLI with the executable's arguments. In a SEA, process.argv is
// [executable, executable, ...arguments].
'use strict';
// The compile cache first (host/bin/compile-cache.js: the unit's CacheDirectory); a start without it still runs.
import('./host/bin/compile-cache.js')
  .then(({ enableStartCache }) => enableStartCache(), () => undefined)
  .then(() => import('./host/dist/cli.js'))
  .then(
    ({ main }) => main(process.argv.slice(2)),
    (error) => {
      process.stderr.write(`mcp-edge: cannot load the gateway: ${error.stack ?? error}\n`);
      process.exit(1);
    },
  );
