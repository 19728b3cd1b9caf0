// Mesh peers attested (security.attestation_required): attestation's
// questions (identity, credential activation, quote, and the certification
// that binds the peer's libp2p key to the TPM that quoted) asked over a libp2p
// stream of their own, one question and one answer per stream, each a line
// of JSON. A node with a TPM answers them; a node that requires attestation
// asks them before it calls a peer's tool and before it serves a peer's call,
// through the gateway's PeerAttestation (the same verifier, interval, policy
// and audit rows as queue destinations).
import { peerIdFromString } from '@libp2p/peer-id';
import { UnsupportedProtocolError, type Stream } from '@libp2p/interface';
import { createPublicKey, type KeyObject } from '../crypto.js';
import type { AttestationEvidence, KeyCertification } from '../security/tpm/attestor.js';
import type { TpmIdentity } from '../security/tpm/identity.js';
import type { AttestationChannel, PeerAttestation } from '../security/tpm/peer-attestation.js';
import type { Logger } from '../telemetry/log.js';
import { dialPeer, type MeshNode } from './node.js';

export const ATTEST_PROTOCOL = '/mcp-edge/attest/1.0.0';

/** What answers the questions: the gateway's TPM service (TpmService.prover). */
export type AttestationProver = AttestationChannel;

type Question = { op: 'identity' } | { op: 'activate'; blob: string; secret: string } | { op: 'quote'; nonce: string } | { op: 'certify'; nonce: string };

/** An identity with an EK certificate is a few KiB; nothing honest comes near this. */
const MAX_LINE_BYTES = 64 * 1024;
/** A real TPM takes up to a second or two for activation; a peer that takes longer is not answering. */
const ANSWER_TIMEOUT_MS = 30_000;

/** Reads one line of JSON from `stream`; rejects when it ends first, grows past the bound, or `signal` aborts. */
function readLine(stream: Stream, signal: AbortSignal): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (err: Error | undefined, line?: Buffer): void => {
      stream.removeEventListener('message', onMessage);
      stream.removeEventListener('remoteCloseWrite', onEnd);
      stream.removeEventListener('close', onEnd);
      signal.removeEventListener('abort', onAbort);
      if (err) return reject(err);
      try {
        resolve(JSON.parse(line!.toString('utf8')));
      } catch (parseErr) {
        reject(new Error(`the peer sent a line that is not JSON (${(parseErr as Error).message})`));
      }
    };
    const onMessage = (event: { data: { subarray(): Uint8Array } }): void => {
      const bytes = Buffer.from(event.data.subarray());
      const newline = bytes.indexOf(10);
      chunks.push(newline < 0 ? bytes : bytes.subarray(0, newline));
      size += bytes.length;
      if (newline >= 0) finish(undefined, Buffer.concat(chunks));
      else if (size > MAX_LINE_BYTES) finish(new Error(`the peer sent more than ${MAX_LINE_BYTES} bytes without a line end`));
    };
    const onEnd = (): void => finish(new Error('the peer closed the attestation stream without an answer'));
    const onAbort = (): void => finish(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    if (signal.aborted) return onAbort();
    stream.addEventListener('message', onMessage);
    stream.addEventListener('remoteCloseWrite', onEnd);
    stream.addEventListener('close', onEnd);
    signal.addEventListener('abort', onAbort);
  });
}

async function writeLine(stream: Stream, value: unknown): Promise<void> {
  if (!stream.send(new TextEncoder().encode(`${JSON.stringify(value)}\n`))) await stream.onDrain();
}

const ENCODED = { hex: /^([0-9a-fA-F]{2})+$/, base64: /^[A-Za-z0-9+/]+={0,2}$/ } as const;

function bytesField(question: Record<string, unknown>, name: string, encoding: keyof typeof ENCODED): Buffer {
  const value = question[name];
  if (typeof value !== 'string' || !ENCODED[encoding].test(value)) throw new Error(`"${name}" is missing or not ${encoding}`);
  return Buffer.from(value, encoding);
}

function answerTo(prover: AttestationProver, question: unknown): Promise<unknown> {
  const q = (question ?? {}) as Record<string, unknown>;
  switch (q.op) {
    case 'identity':
      return prover.identity();
    case 'activate':
      return prover.activate(bytesField(q, 'blob', 'base64'), bytesField(q, 'secret', 'base64')).then((c) => ({ credential: c.toString('base64') }));
    case 'quote':
      return prover.quote(bytesField(q, 'nonce', 'hex'));
    case 'certify':
      if (!prover.certifyMeshKey) return Promise.reject(new Error('this node\'s peer key is not in its TPM (mesh.identity = "file")'));
      return prover.certifyMeshKey(bytesField(q, 'nonce', 'hex'));
    default:
      return Promise.reject(new Error('the question is not one of "identity", "activate", "quote", "certify"'));
  }
}

/** Answers peers' attestation questions from this node's TPM. */
export async function serveAttestation(node: MeshNode, prover: AttestationProver, log: Logger): Promise<void> {
  await node.handle(ATTEST_PROTOCOL, async (stream, connection) => {
    const signal = AbortSignal.timeout(ANSWER_TIMEOUT_MS);
    try {
      const answer = await answerTo(prover, await readLine(stream, signal)).then(
        (result) => ({ result }),
        (err: Error) => ({ error: err.message }),
      );
      await writeLine(stream, answer);
      await stream.close({ signal });
    } catch (err) {
      log.debug(`mesh: attestation question from ${connection.remotePeer.toString()} not answered: ${(err as Error).message}`);
      stream.abort(err as Error);
    }
  });
}

/** Asks `peer` one question on a stream of its own. */
async function ask<T>(node: MeshNode, peer: string, question: Question): Promise<T> {
  const signal = AbortSignal.timeout(ANSWER_TIMEOUT_MS);
  const stream = await dialPeer(node, peerIdFromString(peer), ATTEST_PROTOCOL, signal).catch((err: Error) => {
    if (err instanceof UnsupportedProtocolError) throw new Error('the peer answers no attestation question: it runs without a TPM (security.use_tpm is off there)');
    throw err;
  });
  try {
    await writeLine(stream, question);
    const answer = (await readLine(stream, signal)) as { result?: T; error?: string };
    if (answer.error !== undefined) throw new Error(`the peer could not answer "${question.op}": ${answer.error}`);
    return answer.result as T;
  } finally {
    await stream.close({ signal }).catch((err: Error) => stream.abort(err));
  }
}

/** Attestation's questions to `peer`, over the mesh. */
export function meshChannel(node: MeshNode, peer: string): AttestationChannel {
  return {
    identity: () => ask<TpmIdentity>(node, peer, { op: 'identity' }),
    activate: async (blob, secret) => {
      const answer = await ask<{ credential: string }>(node, peer, { op: 'activate', blob: blob.toString('base64'), secret: secret.toString('base64') });
      return Buffer.from(answer.credential, 'base64');
    },
    quote: (nonce) => ask<AttestationEvidence>(node, peer, { op: 'quote', nonce: nonce.toString('hex') }),
    certifyMeshKey: (nonce) => ask<KeyCertification>(node, peer, { op: 'certify', nonce: nonce.toString('hex') }),
  };
}

/**
 * The key `peer`'s connection proved (its Noise handshake), as node:crypto
 * reads it; undefined for a key the mesh never keeps in a TPM (Ed25519 from a key file) or no connection.
 */
function connectionKey(node: MeshNode, peer: string): KeyObject | undefined {
  const key = node.getConnections(peerIdFromString(peer))[0]?.remotePeer.publicKey;
  if (key?.type !== 'RSA') return undefined;
  return createPublicKey({ key: Buffer.from(key.raw), format: 'der', type: 'spki' });
}

/** Admits a mesh peer once it attested (again after the interval); PeerNotAttested otherwise. Always admits without attestation_required. */
export type MeshAdmission = (peer: string) => Promise<void>;

export function meshAdmission(node: MeshNode, attestation: PeerAttestation | undefined): MeshAdmission {
  if (!attestation) return async () => {};
  return (peer) => attestation.admit(`mesh:${peer}`, `mesh peer ${peer}`, meshChannel(node, peer), () => connectionKey(node, peer));
}
