// Timing helpers of the TPM benches (tpm.mjs, tpm-mesh.mjs): one sample per
// run, and the median and p95 of the samples, in ms.

/** @param {number[]} xs @param {number} q */
export const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round((s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN) * 1000) / 1000;
};

/** @param {number[]} xs */
export const stats = (xs) => ({ medianMs: quantile(xs, 0.5), p95Ms: quantile(xs, 0.95), n: xs.length });

/** @template T @param {() => Promise<T>} run @returns {Promise<[T, number]>} */
export async function timed(run) {
  const start = performance.now();
  const result = await run();
  return [result, performance.now() - start];
}
