// What both engines share: the dictionary handle, level and dictionary checks
// with the same error codes the component uses.
import { CoreError } from '../core/errors.js';
import type { Header } from './frame.js';

const ZSTD_DICT_MAGIC = 0xec30a437;

/**
 * A zstd dictionary: its bytes (a standard zstd dictionary, loadable by
 * `zstd -D` and zstd-napi) and its id, which frames packed with it carry.
 * Each engine prepares its own tables from the bytes on first use.
 */
export class CodecDictionary {
  readonly id: number;
  constructor(readonly bytes: Uint8Array) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.length < 8 || view.getUint32(0, true) !== ZSTD_DICT_MAGIC || view.getUint32(4, true) === 0) {
      throw new CoreError('dictionary-invalid', 'The dictionary is unusable: not a zstd dictionary with an id; train one first.');
    }
    this.id = view.getUint32(4, true);
  }
}

export function checkLevel(level: number): void {
  if (!Number.isInteger(level) || level < -7 || level > 22) {
    throw new CoreError('invalid-level', `Compression level ${level} is out of range; zstd takes -7..22.`, level);
  }
}

/** The dictionary a frame needs, checked against the one given (same rules as the core). */
export function dictionaryFor(header: Header, given?: CodecDictionary): CodecDictionary | undefined {
  const needed = header.dictionaryId;
  if (needed === undefined) return undefined;
  if (header.algorithm !== 'zstd') {
    throw new CoreError('dictionary-unsupported', `Algorithm "${header.algorithm}" cannot use a dictionary; use zstd.`, header.algorithm);
  }
  if (!given) throw new CoreError('dictionary-required', `The frame was packed with dictionary ${needed}; unpack it with that dictionary.`, needed);
  if (given.id !== needed) {
    throw new CoreError('dictionary-mismatch', `The frame needs dictionary ${needed}, but dictionary ${given.id} was given.`, needed);
  }
  return given;
}
