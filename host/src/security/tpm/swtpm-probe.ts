// The swtpm TCTI's initialization talks to the software TPM on the calling
// thread (the main one) with no time limit: it connects to the command port,
// then asks the control port (command port + 1) to set locality 0 and waits
// for the answer. A peer that accepts and never answers (a wrong port, a
// stopped swtpm, a host that drops packets) froze the whole gateway there: its
// own timers did not run, /health did not answer, only SIGKILL ended it. The
// same two steps are taken here first, asynchronously and within a
// deadline; a TPM that answers them answers the TCTI's a moment later.
import { connect } from 'node:net';
import { TpmError } from './errors.js';
import type { TctiConfig } from './tcti.js';

/** How long the software TPM has to accept and answer the probe. */
export const SWTPM_PROBE_MS = 10_000;

/** CMD_SET_LOCALITY (5) with locality 0: what the TCTI's init sends on the control channel. */
const SET_LOCALITY_0 = Buffer.from([0, 0, 0, 5, 0]);

function unreachable(device: string, why: string): TpmError {
  return new TpmError('tpm_unreachable', `the TPM is unreachable: ${device} ${why}; check security.tpm_device and that swtpm runs there`);
}

/**
 * Connects to host:port and, with `request`, sends it and waits for a 4-byte
 * answer; all within `deadline` (epoch ms). Resolves with what was read.
 */
function exchange(device: string, host: string, port: number, request: Buffer | undefined, deadline: number, ms: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const chunks: Buffer[] = [];
    let received = 0;
    const finish = (err?: TpmError) => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(Buffer.concat(chunks));
    };
    const timer = setTimeout(
      () => finish(unreachable(device, `did not ${request ? 'answer on its control port' : 'accept a connection'} (${host}:${port}) within ${ms} ms`)),
      Math.max(0, deadline - Date.now()),
    );
    socket.once('error', (err: NodeJS.ErrnoException) => finish(unreachable(device, `refused the connection to ${host}:${port} (${err.code ?? err.message})`)));
    socket.once('connect', () => {
      if (!request) return finish();
      socket.write(request);
    });
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      if (received >= 4) finish();
    });
    socket.once('end', () => finish(unreachable(device, `closed its control port (${host}:${port}) without an answer`)));
  });
}

/** For a software TPM: its command port accepts and its control port answers, within SWTPM_PROBE_MS. Nothing for a device. */
export async function probeTcti(tcti: TctiConfig, ms = SWTPM_PROBE_MS): Promise<void> {
  if (tcti.kind !== 'swtpm') return;
  const { host, port } = tcti;
  const deadline = Date.now() + ms;
  await exchange(tcti.loaderConf, host, port, undefined, deadline, ms);
  await exchange(tcti.loaderConf, host, port + 1, SET_LOCALITY_0, deadline, ms);
}
