// The JSON Schema validator every MCP server of the gateway shares. The SDK's
// Server builds an Ajv instance of its own when given none (Ajv, its formats
// and meta-schema: ~4 ms of CPU and its memory on every initialize), for the
// one thing it validates with it, an elicitation's answer (Server.elicitInput),
// which the gateway never asks for. Here one instance is built on the first
// schema and shared.
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import type { jsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/types.js';

let shared: AjvJsonSchemaValidator | undefined;

/** For `new Server(info, { jsonSchemaValidator: sharedJsonSchemaValidator })`. */
export const sharedJsonSchemaValidator: jsonSchemaValidator = {
  getValidator: (schema) => (shared ??= new AjvJsonSchemaValidator()).getValidator(schema),
};
