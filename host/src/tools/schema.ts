// Tool schemas come in two kinds: a zod object (TypeScript embedders get typed
// handler arguments) or a plain JSON Schema object (plugins written from a spec,
// or ported from another MCP server). Both become one compiled form: the JSON
// Schema that tools/list advertises, and a validator for values.
import { createRequire } from 'node:module';
import type { Ajv2020, ValidateFunction } from 'ajv/dist/2020.js';
import { z } from 'zod';

/** A JSON Schema describing an object (the MCP spec requires type "object" at the top). */
export interface JsonObjectSchema {
  type: 'object';
  properties?: Record<string, unknown>;
  required?: string[];
  [keyword: string]: unknown;
}

/** Either a zod object schema or a plain JSON Schema object. */
export type ObjectSchema = z.ZodObject | JsonObjectSchema;

/** The data a schema accepts: typed for zod, a plain record for JSON Schema. */
export type SchemaData<S> = S extends z.ZodObject ? z.infer<S> : Record<string, unknown>;

export type Validation = { ok: true; data: Record<string, unknown> } | { ok: false; message: string };

export interface CompiledSchema {
  /** What tools/list shows clients. */
  json: JsonObjectSchema;
  /** Checks (and for zod, applies defaults and transforms to) a value. */
  validate(value: unknown): Validation;
}

// One Ajv for the process: compiled validators are cached by schema identity.
// strict: false because plugin authors write draft-07 keywords too. Made on the
// first JSON Schema (the built-in tools are zod): its draft-2020 vocabularies
// cost a start about 10 ms. Ajv is CommonJS, so it loads synchronously here.
let ajv: Ajv2020 | undefined;
function sharedAjv(): Ajv2020 {
  if (!ajv) {
    const { Ajv2020: Ajv } = createRequire(import.meta.url)('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js');
    ajv = new Ajv({ strict: false, allErrors: true, useDefaults: true, coerceTypes: false });
  }
  return ajv;
}

function isZodObject(schema: ObjectSchema): schema is z.ZodObject {
  return schema instanceof z.ZodType;
}

function describeZodIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.map(String).join('.') || '(value)'}: ${i.message}`).join('; ');
}

function compileZod(schema: z.ZodObject, io: 'input' | 'output'): CompiledSchema {
  // Converted on the first tools/list, not at registration: the built-in tools' conversions cost a start ~10-20 ms.
  let json: JsonObjectSchema | undefined;
  return {
    get json() {
      if (!json) {
        const converted = z.toJSONSchema(schema, { target: 'draft-2020-12', io }) as Record<string, unknown>;
        delete converted.$schema;
        json = { ...converted, type: 'object' };
      }
      return json;
    },
    validate(value) {
      const parsed = schema.safeParse(value);
      return parsed.success ? { ok: true, data: parsed.data as Record<string, unknown> } : { ok: false, message: describeZodIssues(parsed.error) };
    },
  };
}

function compileJson(schema: JsonObjectSchema, what: string): CompiledSchema {
  if (schema === null || typeof schema !== 'object' || schema.type !== 'object') {
    throw new Error(`${what}: a JSON Schema for tool arguments or results must have "type": "object"`);
  }
  let check: ValidateFunction;
  try {
    check = sharedAjv().compile(schema);
  } catch (err) {
    throw new Error(`${what}: the JSON Schema does not compile: ${(err as Error).message}`);
  }
  return {
    json: schema,
    validate(value) {
      // Ajv fills defaults in place; validate a copy so the caller's object stays as sent.
      const copy = structuredClone(value) as Record<string, unknown>;
      if (check(copy)) return { ok: true, data: copy };
      const message = (check.errors ?? []).map((e) => `${e.instancePath.slice(1).replaceAll('/', '.') || '(value)'}: ${e.message ?? 'invalid'}`).join('; ');
      return { ok: false, message };
    },
  };
}

/**
 * Compiles a schema; `what` names it in errors ("tool x input"). A schema that
 * cannot compile is a programming error and throws at registration, not at call.
 */
export function compileSchema(schema: ObjectSchema, io: 'input' | 'output', what: string): CompiledSchema {
  return isZodObject(schema) ? compileZod(schema, io) : compileJson(schema, what);
}
