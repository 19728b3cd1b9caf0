// Builds every artifact of a release into target/release/ (see platforms/README.md):
// the two single-file executables, the npm tarball, the browser package as a
// tarball, and SHA256SUMS over them all.
//
//   node scripts/run.mjs release      npm run release
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { buildBrowser, BROWSER_OUT } from './build-browser.mjs';
import { buildPlatform } from './build-platform.mjs';
import { fail, log, root, run, sha256 } from './lib.mjs';

const RELEASE = join(root, 'target/release');
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

rmSync(RELEASE, { recursive: true, force: true });
mkdirSync(RELEASE, { recursive: true });
for (const target of /** @type {const} */ (['linux-x64', 'linux-arm64'])) {
  const binary = buildPlatform(target);
  copyFileSync(binary, join(RELEASE, basename(binary)));
}
const packed = spawnSync('npm', ['pack', '--json', '--pack-destination', RELEASE], { cwd: root, encoding: 'utf8' });
if (packed.status !== 0) fail(`npm pack failed:\n${packed.stderr}`);
await buildBrowser();
run('tar', ['czf', join(RELEASE, `mcp-edge-browser-${version}.tgz`), '-C', BROWSER_OUT, '--transform', 's,^\\.,package,', '.']);
for (const name of ['install.sh', 'uninstall.sh', 'mcp-edge.service', 'mcp-edge.toml']) {
  copyFileSync(join(root, 'platforms/linux-arm64', name), join(RELEASE, name));
}
const files = readdirSync(RELEASE).filter((name) => name !== 'SHA256SUMS').sort();
writeFileSync(join(RELEASE, 'SHA256SUMS'), files.map((name) => `${sha256(readFileSync(join(RELEASE, name)))}  ${name}\n`).join(''));
log(`release ${version} in target/release: ${files.join(', ')}, SHA256SUMS`);
