// What the verifier said to a piece of evidence: 'accepted', or the reason of
// its AttestationRefused (any other error is thrown on).
import { AttestationRefused, type AttestationFailure } from '../../host/src/security/tpm/verifier.js';

export function refusal(run: () => unknown): AttestationFailure | 'accepted' {
  try {
    run();
    return 'accepted';
  } catch (err) {
    if (err instanceof AttestationRefused) return err.reason;
    throw err;
  }
}

export async function refusalOf(run: () => Promise<unknown>): Promise<AttestationFailure | 'accepted'> {
  try {
    await run();
    return 'accepted';
  } catch (err) {
    if (err instanceof AttestationRefused) return err.reason;
    throw err;
  }
}
