// Debian's swtpm, started for tests and benchmarks: a fresh software TPM 2.0
// manufactured by swtpm_setup in `dir` (EK at 0x81010001, its certificate in
// NV 0x01c00002, signed by a CA that lives in `dir`/ca), serving the TPM
// command channel on 127.0.0.1:port and its control channel on port + 1 (the
// swtpm TCTI always looks there). Unprivileged: no /dev, no root needed.
// `disconnect`: swtpm closes each connection after its answer. The TCTI opens
// one per command anyway, and swtpm serves one connection at a time: a child
// process that inherited a command's socket (the TSS opens it without
// O_CLOEXEC, on a worker thread, so nothing can mark it) would otherwise keep
// swtpm waiting on it, and every later command of every client hung
// (test/tpm-descriptors.test.ts).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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

/**
 * The first port of the kernel's ephemeral range: what listen(0) and outgoing
 * connections take. @returns {number}
 */
function ephemeralLow() {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 11_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

/**
 * A free port on 127.0.0.1 whose successor is free too, below the ephemeral
 * range. Taken from listen(0), the port was in that range: between this check
 * and swtpm's bind, or while swtpm restarted on it, another process's
 * listen(0) or outgoing connection could take it, and the TSS then sent its
 * commands to that process and waited for an answer for ever (a test's
 * gateway hung in a full suite, never alone). @returns {Promise<number>}
 */
async function freePortPair() {
  const high = ephemeralLow() - 2;
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * (high - 10_000));
    if ((await canListen(port)) && (await canListen(port + 1))) return port;
  }
  throw new Error('found no two free consecutive ports on 127.0.0.1 below the ephemeral range');
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
      ['socket', '--tpm2', '--tpmstate', `dir=${join(dir, 'state')}`, '--server', `type=tcp,port=${port},bindaddr=127.0.0.1,disconnect`,
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
    /** Stops it answering (SIGSTOP): the kernel still accepts connections, nothing is answered until resume(). */
    pause: () => void child?.kill('SIGSTOP'),
    resume: () => void child?.kill('SIGCONT'),
    /** Starts it again on the same state and port (as after a reboot: PCRs back to zero). */
    restart: async () => {
      await stop();
      await start();
    },
  };
}
