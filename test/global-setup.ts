// Before any test file: the test model in the user cache (fetched once, then reused).
import { ensureTestModel } from '../scripts/models.mjs';

export default function setup(): void {
  process.env.MCP_EDGE_TEST_MODEL = ensureTestModel();
}
