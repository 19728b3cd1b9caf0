// Runs inside the folder the single-file executable unpacked (see main.cjs):
// the mcp-edge CLI with the executable's arguments. In a SEA, process.argv is
// [executable, executable, ...arguments].
'use strict';
// The compile cache first (the unit's CacheDirectory) and the bundle (host/bin/launch.js); a start without them still runs.
import('./host/bin/launch.js')
  .then(
    ({ cliModule, enableStartCache }) => {
      enableStartCache();
      return cliModule();
    },
    () => './host/dist/cli.js',
  )
  .then((cli) => import(cli))
  .then(
    ({ main }) => main(process.argv.slice(2)),
    (error) => {
      process.stderr.write(`mcp-edge: cannot load the gateway: ${error.stack ?? error}\n`);
      process.exit(1);
    },
  );
