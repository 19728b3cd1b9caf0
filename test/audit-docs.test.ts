// docs/security.md "Audit log", run as written: the [audit] block is loaded
// and served, a call is made, and each documented `mcp-edge audit` line runs
// on the real CLI against the gateway's data dir.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../host/src/config/load.js';
import type { AuditRow } from '../host/src/security/audit/event.js';
import { connectClient, startGateway } from './helpers/gateway.js';
import { collect, spawnCli, tempDir, waitForExit } from './helpers/processes.js';
import { docPage } from './helpers/docs.js';

const { example } = docPage('docs/security.md');


describe('docs/security.md: Audit log', () => {
  it('serves the [audit] block as written, and each documented command works on what it recorded', async () => {
    const toml = example('audit-config', 'toml');
    const config = parseConfig(toml, 'docs/security.md', {});
    expect(config.audit).toMatchObject({ enabled: true, record_arguments: false, retention_days: 90, max_rows: 5_000_000, flush_interval_ms: 50, on_overflow: 'drop' });
    const dataDir = tempDir();
    const configFile = join(dataDir, 'mcp-edge.toml');
    writeFileSync(configFile, toml);
    const gateway = await startGateway({ ...config, gateway: { data_dir: dataDir } });
    await (await connectClient(gateway)).callTool({ name: 'count_tokens', arguments: { text: 'documented' } });
    await gateway.auditLog!.flush();

    const lines = example('audit-commands', 'sh').trim().split('\n');
    expect(lines).toHaveLength(3);
    const outputs: string[] = [];
    for (const line of lines) {
      expect(line.startsWith('mcp-edge audit ')).toBe(true);
      const child = spawnCli([...line.slice('mcp-edge '.length).split(/\s+/), '--config', configFile, '--data-dir', dataDir]);
      const out = collect(child.stdout);
      expect(await waitForExit(child)).toBe(0);
      outputs.push(out.text());
    }
    const [verify, head, exported] = outputs as [string, string, string];
    expect(verify).toMatch(/^audit log OK: 1 rows verified from the first row; head row 1, hash [0-9a-f]{64}\n$/);
    expect(head).toMatch(/^1 [0-9a-f]{64}\n$/);
    const row = JSON.parse(exported) as AuditRow;
    expect(row).toMatchObject({ seq: 1, operation: 'tools/call', target: 'count_tokens', outcome: 'ok', arguments: null, principal_id: 'local:loopback' });
    expect(verify).toContain(head.split(' ')[1]!.trim());
  });
});
