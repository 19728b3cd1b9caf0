// Finds a Rust toolchain that can build wasm32-unknown-unknown, installing
// Debian's when it runs as root on Debian (see ../shared/TOOLCHAIN.md).
//
// Two routes, in order of preference:
// 1. rustup with the wasm32-unknown-unknown target installed: plain cargo.
// 2. Debian's rustc-web: no prebuilt wasm std, so std is built from the shipped
//    source with -Zbuild-std (RUSTC_BOOTSTRAP=1), linked with lld-19's wasm-ld.
import { existsSync } from 'node:fs';
import { probe, run, log, fail, timed } from './lib.mjs';

const DEBIAN_RUST = '/usr/bin/rustc';
const DEBIAN_CARGO = '/usr/bin/cargo';
const DEBIAN_STD_SRC = '/usr/lib/rustlib/src/rust/library';
const WASM_LD = '/usr/lib/llvm-19/bin/wasm-ld';

/** Debian packages the build and tests need: the wasm Rust, its std source, a
 * wasm linker, clang for the C code (zstd) compiled into the core; the zstd and
 * lz4 tools and Chromium, which the tests run against the core; the arm64 C++
 * cross compiler (better-sqlite3 for the arm64 executable, and the arm64
 * libraries qemu-aarch64 runs it with) and qemu-user (scripts/build-platform.mjs,
 * test/platform-linux-arm64.test.ts); the TPM software stack (ESAPI, its TCTIs,
 * marshalling, return-code words) the host loads through koffi, and swtpm, the
 * software TPM the tests run against (tpm2-tools cross-checks its quotes); ip
 * (iproute2) and iptables, with which test/mesh-nat.test.ts builds NATs out of
 * network namespaces. */
export const DEBIAN_PACKAGES = [
  'rustc-web', 'cargo-web', 'rust-web-src', 'lld-19', 'clang-19', 'zstd', 'lz4', 'chromium',
  'g++-aarch64-linux-gnu', 'qemu-user',
  'libtss2-esys-3.0.2-0', 'libtss2-tctildr0', 'libtss2-tcti-device0', 'libtss2-tcti-swtpm0', 'libtss2-mu0', 'libtss2-rc0',
  'swtpm', 'swtpm-tools', 'tpm2-tools',
  'iproute2', 'iptables',
];

const TARGET = 'wasm32-unknown-unknown';
const SIMD = '-C target-feature=+simd128';
// zstd is C (zstd-sys): cc needs a wasm-capable clang, and simd128 for the C
// code too. MCP_EDGE_SIMD=0 builds both without SIMD (bench/codec compares).
const simdOn = process.env.MCP_EDGE_SIMD !== '0';
// The wasm features rustc (LLVM 20+) turns on by default, which clang-19's
// generic CPU lacks. bulk-memory matters most: without it every variable-size
// memcpy/memmove/memset in zstd is a call into compiler-builtins' byte/word
// loop instead of one memory.copy/memory.fill (zstd clears its hash tables and
// moves literals with them on every call).
const C_FEATURES = '-mbulk-memory -mnontrapping-fptoint -msign-ext -mmutable-globals';
const RUST_SIMD = simdOn ? SIMD : '-C target-feature=-simd128';

/**
 * How to run cargo for wasm32: the cargo binary, extra arguments, extra environment.
 * @typedef {{ name: string; cargo: string; args: string[]; env: Record<string, string> }} Route
 */

/**
 * The C compiler and archiver for wasm32. Looked up when a route is chosen,
 * after the Debian packages are installed: deciding when this module loaded
 * picked a `clang` that a fresh machine does not have yet.
 */
function cEnv() {
  const versioned = (/** @type {string} */ tool) => (existsSync(`/usr/bin/${tool}-19`) ? `${tool}-19` : tool);
  return {
    CC_wasm32_unknown_unknown: process.env.CC_wasm32_unknown_unknown ?? versioned('clang'),
    AR_wasm32_unknown_unknown: process.env.AR_wasm32_unknown_unknown ?? versioned('llvm-ar'),
    CFLAGS_wasm32_unknown_unknown: `${simdOn ? '-msimd128' : '-mno-simd128'} ${C_FEATURES}`,
  };
}

/** @returns {Route | null} */
function rustupRoute() {
  const installed = probe('rustup', ['target', 'list', '--installed']);
  if (!installed || !installed.split('\n').includes(TARGET)) return null;
  return { name: 'rustup', cargo: 'cargo', args: [], env: { RUSTFLAGS: RUST_SIMD, ...cEnv() } };
}

/** @returns {Route | null} */
function debianRoute() {
  const present = [DEBIAN_RUST, DEBIAN_CARGO, DEBIAN_STD_SRC, WASM_LD].every((p) => existsSync(p));
  if (!present) return null;
  return {
    name: 'debian rustc-web + build-std',
    cargo: DEBIAN_CARGO,
    args: ['-Zbuild-std=std,panic_abort'],
    env: { RUSTC: DEBIAN_RUST, RUSTC_BOOTSTRAP: '1', RUSTFLAGS: `${RUST_SIMD} -C linker=${WASM_LD}`, ...cEnv() },
  };
}

function missingDebianPackages() {
  return DEBIAN_PACKAGES.filter((pkg) => {
    const status = probe('dpkg-query', ['-W', '-f=${Status}', pkg]);
    return !status || !status.includes('install ok installed');
  });
}

/** @param {string[]} packages */
function installDebianPackages(packages) {
  log(`Debian packages missing: ${packages.join(' ')}`);
  timed('apt-get update', () => run('apt-get', ['update', '-qq']));
  timed(`apt-get install (${packages.length} packages and their dependencies)`, () =>
    run('apt-get', ['install', '-y', '-qq', ...packages], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }),
  );
}

function canInstallDebian() {
  return existsSync('/etc/debian_version') && process.getuid?.() === 0 && probe('apt-get', ['--version']) !== null;
}

/**
 * Makes sure the Debian packages are there (when we may install them), then picks a route.
 * @returns {Route}
 */
export function findToolchain() {
  if (existsSync('/etc/debian_version')) {
    const missing = missingDebianPackages();
    if (missing.length > 0 && canInstallDebian()) installDebianPackages(missing);
  }
  const route = rustupRoute() ?? debianRoute();
  if (route) return route;
  fail(
    'No Rust toolchain that can build WebAssembly was found.\n' +
      'Install one of:\n' +
      `  - rustup target add ${TARGET}   (with rustup and clang on PATH), or\n` +
      `  - on Debian 12, as root: apt-get install -y ${DEBIAN_PACKAGES.join(' ')}\n` +
      'then run the command again.',
  );
}

/**
 * The cargo invocation that builds the component crate's core module.
 * @param {Route} route
 * @param {string} targetDir
 */
export function cargoBuild(route, targetDir) {
  const args = ['build', '--release', '--target', TARGET, '-p', 'edge-core-component', '--target-dir', targetDir, ...route.args];
  return { cmd: route.cargo, args, env: { ...process.env, ...route.env } };
}

export { TARGET };
