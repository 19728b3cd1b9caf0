// A gateway for the queue benches: `record` is deferrable to DEST_URL.
// Usage: node gateway.mjs DATA_DIR DEST_URL [WINDOW]
import { createGateway } from '../../host/dist/index.js';

const [dataDir, destUrl, window = '1'] = process.argv.slice(2);
const gateway = await createGateway({
  config: {
    gateway: { bind_address: '127.0.0.1:0', data_dir: dataDir, max_connections: 1000 },
    offline: {
      destinations: { dest: { url: destUrl, max_items: 10_000_000, max_bytes: 2 ** 40 } },
      deferrable_tools: { record: 'dest' },
      retry_base_ms: 3_600_000,
      sync_interval_seconds: 3600,
      delivery_window: Number(window),
    },
  },
  logger: { debug() {}, info() {}, warn() {}, error() {} },
});
process.stdout.write(`READY ${gateway.url}\n`);
process.on('SIGTERM', () => void gateway.close().then(() => process.exit(0)));
