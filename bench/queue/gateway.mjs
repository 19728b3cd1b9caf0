// A gateway for the queue benches: `record` is deferrable to DEST_URL, and
// `ping` is a local tool that answers at once (live traffic beside a drain).
// Usage: node gateway.mjs DATA_DIR DEST_URL [WINDOW] [BATCH]   (BATCH "false": one call per request)
import { z } from 'zod';
import { createGateway, defineTool } from '../../host/dist/index.js';

const [dataDir, destUrl, window = '1', batch = 'true'] = process.argv.slice(2);
const gateway = await createGateway({
  config: {
    gateway: { bind_address: '127.0.0.1:0', data_dir: dataDir, max_connections: 1000 },
    offline: {
      destinations: { dest: { url: destUrl, max_items: 10_000_000, max_bytes: 2 ** 40, batch: batch !== 'false' } },
      deferrable_tools: { record: 'dest' },
      retry_base_ms: 3_600_000,
      sync_interval_seconds: 3600,
      delivery_window: Number(window),
    },
  },
  logger: { debug() {}, info() {}, warn() {}, error() {} },
});
gateway.tools.register(defineTool({ name: 'ping', description: 'Answers at once.', input: z.object({}), handler: async () => ({ content: [{ type: 'text', text: 'pong' }] }) }));
process.stdout.write(`READY ${gateway.url}\n`);
process.on('SIGTERM', () => void gateway.close().then(() => process.exit(0)));
