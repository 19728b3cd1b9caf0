// What children inherit of the TPM: nothing. The TSS opens its descriptors
// without O_CLOEXEC; a child the gateway started (a stdio upstream, a shell
// program) held a read-write descriptor of the gateway's /dev/tpmrm0, and a
// child that caught a software TPM's socket stalled that TPM (it serves one
// connection at a time): TPM tests hung in full suites, `mcp-edge mesh id`
// waited for ever beside a running gateway. A FIFO stands in for the device
// here: tcti-device opens whatever path it is given and sends nothing at init.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, readlinkSync, readdirSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tpm } from '../host/src/security/tpm/esys.js';
import { parseTcti } from '../host/src/security/tpm/tcti.js';
import { NODE } from './helpers/gateway.js';
import { tempDir } from './helpers/processes.js';
import { startSwtpm } from './helpers/swtpm.js';

/** The descriptors of this process that name `path`. */
function descriptorsOf(path: string): number[] {
  return readdirSync('/proc/self/fd')
    .map(Number)
    .filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`) === path;
      } catch {
        return false;
      }
    });
}

/** What a child process holds open, by target. */
function childDescriptors(): string[] {
  const script = "const fs=require('fs');console.log(JSON.stringify(fs.readdirSync('/proc/self/fd').map(f=>{try{return fs.readlinkSync('/proc/self/fd/'+f)}catch{return ''}})))";
  const child = spawnSync(NODE, ['-e', script], { encoding: 'utf8' });
  return JSON.parse(child.stdout) as string[];
}

describe('the TPM and child processes', () => {
  it('keeps the device the TCTI opened from every child started after it', async () => {
    const device = join(tempDir('mcp-edge-tpm-fd-'), 'tpmrm0');
    execFileSync('mkfifo', [device]);
    const tpm = Tpm.open({ kind: 'device', loaderConf: `device:${device}` });
    try {
      const held = descriptorsOf(device);
      expect(held).toHaveLength(1);
      const flags = /flags:\s*([0-7]+)/.exec(readFileSync(`/proc/self/fdinfo/${held[0]}`, 'utf8'))?.[1];
      expect(Number.parseInt(flags!, 8) & 0o2000000).toBe(0o2000000); // O_CLOEXEC
      expect(childDescriptors()).not.toContain(device);
    } finally {
      await tpm.close();
    }
    expect(descriptorsOf(device)).toEqual([]);
  });

  it('a software TPM connection a child kept open does not stall the TPM (swtpm serves one at a time)', async () => {
    const swtpm = await startSwtpm();
    // A child that caught the TCTI's socket for one command keeps it after the command: here, this socket.
    const kept = await new Promise<Socket>((resolve, reject) => {
      const socket = connect(swtpm.port, '127.0.0.1', () => resolve(socket));
      socket.once('error', reject);
    });
    const answered = new Promise<number>((resolve) => kept.once('data', (d: Buffer) => resolve(d.length)));
    kept.write(Buffer.from('80010000000c0000017b0008', 'hex')); // TPM2_GetRandom(8)
    expect(await answered).toBeGreaterThanOrEqual(10);
    const tpm = Tpm.open(parseTcti(swtpm.tcti));
    try {
      const deadline = new Promise<string>((resolve) => setTimeout(() => resolve('no answer in 10 s'), 10_000).unref());
      expect(await Promise.race([tpm.openHandles(), deadline])).toBe(0);
    } finally {
      kept.destroy();
      await tpm.close();
      await swtpm.stop();
    }
  });
});
