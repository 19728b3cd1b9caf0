// tpm_quote: the quote route as an MCP tool, for a verifier that speaks MCP
// to the gateway (listed only with security.use_tpm).
import { z } from 'zod';
import { defineTool } from '../../tools/registry.js';
import { NONCE_BYTES } from './attestor.js';
import type { TpmService } from './service.js';

const quoteInput = z.object({
  nonce: z
    .string()
    .regex(/^([0-9a-fA-F]{2})+$/)
    .min(NONCE_BYTES.min * 2)
    .max(NONCE_BYTES.max * 2)
    .describe(`A fresh random value of the verifier, ${NONCE_BYTES.min} to ${NONCE_BYTES.max} bytes in hex.`),
});

const quoteOutput = z.object({
  akName: z.string(),
  attest: z.string(),
  signature: z.string(),
  pcrs: z.record(z.string(), z.string()),
  eventLog: z.array(z.object({ pcr: z.number(), what: z.enum(['code', 'config']), digest: z.string() })),
});

export function tpmQuoteTool(tpm: TpmService) {
  return defineTool({
    name: 'tpm_quote',
    title: 'TPM quote of this gateway',
    description:
      "Signs the gateway's PCRs (boot PCRs and PCR 23, where the gateway measured its code and config) and the nonce with its TPM attestation key. " +
      'Verify the signature with the AK from GET /v1/attestation/identity, the nonce, the PCR digest and the event log.',
    input: quoteInput,
    output: quoteOutput,
    annotations: { readOnlyHint: true, idempotentHint: false, openWorldHint: false },
    handler: async ({ nonce }) => {
      try {
        const evidence = await tpm.quote(Buffer.from(nonce, 'hex'));
        return { content: [{ type: 'text', text: JSON.stringify(evidence) }], structuredContent: { ...evidence } };
      } catch (err) {
        return { isError: true, content: [{ type: 'text', text: (err as Error).message }] };
      }
    },
  });
}
