// For the tests that hold the core's direct lane (host/src/core/direct*.ts) to
// jco's bindings: what one call gave, in a form both lanes can be compared by.
import { expect } from 'vitest';
import { CoreError } from '../../host/src/core/index.js';

/** ['ok', the value] (a Uint32Array as a plain array), or the CoreError the call threw as [code, message]. */
export function outcome(fn: () => unknown): unknown[] {
  try {
    const value = fn();
    return ['ok', value instanceof Uint32Array ? [...value] : value];
  } catch (err) {
    expect(err).toBeInstanceOf(CoreError);
    return [(err as CoreError).code, (err as Error).message];
  }
}
