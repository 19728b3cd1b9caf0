// The archive the single-file executable carries its app in: "MCPEAPP1", the
// byte length of a JSON index (u32, little-endian), the index (one
// { path, mode, size } per file), then every file's bytes in index order.
// main.cjs reads it; this writes it. A format of our own instead of tar: the
// reader is fifteen lines of built-in Node, which is all a SEA entry may use.
import { readFileSync, statSync } from 'node:fs';
import { relative } from 'node:path';

const MAGIC = 'MCPEAPP1';

/**
 * The archive of `files` (absolute paths under `base`), stored under their paths relative to `base`.
 * @param {string} base
 * @param {string[]} files
 */
export function writeArchive(base, files) {
  const index = files.map((file) => {
    const stat = statSync(file);
    return { path: relative(base, file), mode: stat.mode & 0o777, size: stat.size };
  });
  const indexBytes = Buffer.from(JSON.stringify(index), 'utf8');
  const head = Buffer.alloc(12);
  head.write(MAGIC, 0, 'latin1');
  head.writeUInt32LE(indexBytes.length, 8);
  return Buffer.concat([head, indexBytes, ...files.map((file) => readFileSync(file))]);
}
