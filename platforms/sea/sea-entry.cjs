// Runs inside the folder the single-file executable unpacked (see main.cjs):
// the mcp-edge CLI with the executable's arguments. In a SEA, process.argv is
// [executable, executable, ...arguments].
'use strict';
// As host/bin/mcp-edge.js does (host/bin/launch.js): the compile cache first (the unit's
// CacheDirectory), the bundle, and a young generation held small until the command is up;
// a start without them still runs.
let releaseYoungGeneration = () => {};
import('./host/bin/launch.js')
  .then(
    ({ cliModule, enableStartCache, holdYoungGeneration }) => {
      enableStartCache();
      releaseYoungGeneration = holdYoungGeneration();
      return cliModule();
    },
    () => './host/dist/cli.js',
  )
  .then((cli) => import(cli))
  .then(
    ({ main }) => main(process.argv.slice(2)).finally(() => releaseYoungGeneration()),
    (error) => {
      process.stderr.write(`mcp-edge: cannot load the gateway: ${error.stack ?? error}\n`);
      process.exit(1);
    },
  );
