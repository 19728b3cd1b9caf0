// platforms/linux-arm64: the installer and the uninstaller under MCP_EDGE_ROOT
// (a folder standing for /, with no user or systemctl steps), and the unit as
// systemd reads it. The executable itself runs in platform-linux-arm64.test.ts.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, tempDir } from './helpers/processes.js';

const DIR = join(ROOT, 'platforms/linux-arm64');

function sh(script: string, args: string[], root: string) {
  return spawnSync('sh', [join(DIR, script), ...args], { env: { PATH: process.env.PATH, MCP_EDGE_ROOT: root }, encoding: 'utf8' });
}

/** A stand-in for the executable with its checksum file beside it, as a release has them. */
function fakeRelease(): string {
  const dir = tempDir('mcp-edge-release-');
  const binary = join(dir, 'mcp-edge-linux-arm64');
  writeFileSync(binary, 'not really an executable\n');
  const sum = spawnSync('sha256sum', [binary], { encoding: 'utf8' }).stdout.split(' ')[0];
  writeFileSync(`${binary}.sha256`, `${sum}  mcp-edge-linux-arm64\n`);
  return binary;
}

describe('platforms/linux-arm64', () => {
  it('the unit passes systemd-analyze verify (but for the binary it names)', () => {
    const verified = spawnSync('systemd-analyze', ['verify', join(DIR, 'mcp-edge.service')], { encoding: 'utf8' });
    const complaints = verified.stderr.split('\n').filter((line) => line.trim() && !line.includes('/usr/local/bin/mcp-edge'));
    expect(complaints).toEqual([]);
    const unit = readFileSync(join(DIR, 'mcp-edge.service'), 'utf8');
    for (const line of ['User=mcp-edge', 'StateDirectory=mcp-edge', 'ProtectSystem=strict', 'NoNewPrivileges=yes', 'CapabilityBoundingSet=', 'Environment=NODE_OPTIONS=--max-semi-space-size=8']) {
      expect(unit.split('\n')).toContain(line);
    }
  });

  it('installs the binary, the unit and a default config; keeps an edited config; uninstalls', () => {
    const root = tempDir('mcp-edge-root-');
    const binary = fakeRelease();
    const first = sh('install.sh', [binary], root);
    expect(first.stderr).toBe('');
    expect(first.status).toBe(0);
    expect(statSync(join(root, 'usr/local/bin/mcp-edge')).mode & 0o777).toBe(0o755);
    expect(readFileSync(join(root, 'etc/systemd/system/mcp-edge.service'), 'utf8')).toBe(readFileSync(join(DIR, 'mcp-edge.service'), 'utf8'));
    expect(readFileSync(join(root, 'etc/mcp-edge/mcp-edge.toml'), 'utf8')).toContain('data_dir = "/var/lib/mcp-edge"');

    writeFileSync(join(root, 'etc/mcp-edge/mcp-edge.toml'), '# edited\n');
    expect(sh('install.sh', [binary], root).stdout).toMatch(/keeping the existing/);
    expect(readFileSync(join(root, 'etc/mcp-edge/mcp-edge.toml'), 'utf8')).toBe('# edited\n');

    mkdirSync(join(root, 'var/lib/mcp-edge'), { recursive: true });
    expect(sh('uninstall.sh', [], root).status).toBe(0);
    expect(existsSync(join(root, 'usr/local/bin/mcp-edge'))).toBe(false);
    expect(existsSync(join(root, 'etc/systemd/system/mcp-edge.service'))).toBe(false);
    expect(existsSync(join(root, 'var/lib/mcp-edge'))).toBe(true);
    expect(sh('uninstall.sh', ['--purge'], root).status).toBe(0);
    expect(existsSync(join(root, 'var/lib/mcp-edge'))).toBe(false);
    expect(existsSync(join(root, 'etc/mcp-edge'))).toBe(false);
  });

  it('refuses a binary that does not match its checksum', () => {
    const binary = fakeRelease();
    writeFileSync(binary, 'tampered\n');
    const refused = sh('install.sh', [binary], tempDir('mcp-edge-root-'));
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/does not match .*\.sha256: download it again/);
  });
});
