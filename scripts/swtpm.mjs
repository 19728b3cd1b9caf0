// Debian's swtpm, started for tests and benchmarks: a fresh software TPM 2.0
// manufactured by swtpm_setup in `dir` (EK at 0x81010001, its certificate in
// NV 0x01c00002, signed by a CA that lives in `dir`/ca), serving the TPM
// command channel on 127.0.0.1:port and its control channel on port + 1 (the
// swtpm TCTI always looks there). Unprivileged: no /dev, no root needed.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';

/** @param {string} dir */
function manufacture(dir) {
  const ca = join(dir, 'ca');
  mkdirSync(join(dir, 'state'), { recursive: true });
  writeFileSync(join(dir, 'localca.conf'), `statedir = ${ca}\nsigningkey = ${ca}/signkey.pem\nissuercert = ${ca}/issuercert.pem\ncertserial = ${ca}/certserial\n`);
  writeFileSync(
    join(dir, 'setup.conf'),
    `create_certs_tool = /usr/bin/swtpm_localca\ncreate_certs_tool_config = ${dir}/localca.conf\ncreate_certs_tool_options = /etc/swtpm-localca.options\nactive_pcr_banks = sha256\n`,
  );
  const setup = spawnSync('swtpm_setup', ['--tpm2', '--tpmstate', join(dir, 'state'), '--create-ek-cert', '--overwrite', '--config', join(dir, 'setup.conf')], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (setup.status !== 0) throw new Error(`swtpm_setup failed (is Debian's swtpm-tools installed?):\n${setup.stdout}\n${setup.stderr}`);
}

/** @param {number} port @returns {Promise<boolean>} */
function canListen(port) {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A free port on 127.0.0.1 whose successor is free too. @returns {Promise<number>} */
async function freePortPair() {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const { port: p } = /** @type {import('node:net').AddressInfo} */ (server.address());
        server.close(() => resolve(p));
      });
    });
    if (port < 65_535 && (await canListen(port + 1))) return port;
  }
  throw new Error('found no two free consecutive ports on 127.0.0.1');
}

/** Resolves once 127.0.0.1:port accepts a connection. @param {number} port @param {import('node:child_process').ChildProcess} child */
async function waitForPort(port, child, ms = 10_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`swtpm exited with ${child.exitCode} before listening`);
    const ok = await new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`swtpm did not listen on ${port} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Manufactures a TPM in `dir` and starts it. `onSpawn` sees each process (to kill it at the end).
 * @param {string} dir
 * @param {(child: import('node:child_process').ChildProcess) => void} [onSpawn]
 */
export async function startSwtpm(dir, onSpawn = () => {}) {
  manufacture(dir);
  const port = await freePortPair();
  /** @type {import('node:child_process').ChildProcess | undefined} */
  let child;
  const start = async () => {
    const proc = spawn(
      'swtpm',
      ['socket', '--tpm2', '--tpmstate', `dir=${join(dir, 'state')}`, '--server', `type=tcp,port=${port},bindaddr=127.0.0.1`,
        '--ctrl', `type=tcp,port=${port + 1},bindaddr=127.0.0.1`, '--flags', 'not-need-init,startup-clear'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    onSpawn(proc);
    child = proc;
    await waitForPort(port, proc);
  };
  /** Stops the process (the state stays). Idempotent. */
  const stop = async () => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGTERM');
    await exited;
  };
  await start();
  return {
    /** The security.tpm_device value that reaches it. */
    tcti: `swtpm:host=127.0.0.1,port=${port}`,
    port,
    dir,
    stop,
    /** Starts it again on the same state and port (as after a reboot: PCRs back to zero). */
    restart: async () => {
      await stop();
      await start();
    },
  };
}
