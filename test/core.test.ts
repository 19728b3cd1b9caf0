// The component itself, loaded in Node through the typed facade.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCore, CoreError } from '../host/src/core/index.js';
import { ROOT } from './helpers/processes.js';

const COMPONENT = join(ROOT, 'target/component/edge-core.wasm');
const CORE_MODULE = join(ROOT, 'host/src/core/generated/edge-core.core.wasm');
const THREE_MB = 3 * 1024 * 1024;

describe('edge-core component', () => {
  it('loads in Node and reports its version and SIMD build', async () => {
    const core = await loadCore();
    const cargo = readFileSync(join(ROOT, 'crates/edge-core/Cargo.toml'), 'utf8');
    expect(cargo).toContain(`version.workspace = true`);
    const workspace = readFileSync(join(ROOT, 'Cargo.toml'), 'utf8');
    expect(workspace).toContain(`version = "${core.version}"`);
    expect(core.features).toContain('simd128');
  });

  it('imports nothing, so one artifact runs in Node and browsers without a shim', async () => {
    const module = new WebAssembly.Module(readFileSync(CORE_MODULE));
    // Exported resources (the queue's scheduler) need the component model's own
    // resource intrinsics, which the component provides to its core module
    // ("[export]<iface>" / "[resource-new|rep|drop]<name>"); nothing else may be imported.
    const intrinsic = (i: WebAssembly.ModuleImportDescriptor) => i.module.startsWith('[export]') && /^\[resource-(new|rep|drop)\]/.test(i.name);
    expect(WebAssembly.Module.imports(module).filter((i) => !intrinsic(i))).toEqual([]);
    const { transpileBytes } = await import('@bytecodealliance/jco-transpile');
    const { imports } = await transpileBytes(readFileSync(COMPONENT), { name: 'probe' });
    expect(imports).toEqual([]);
  });

  it('stays under 3 MB', () => {
    expect(statSync(COMPONENT).size).toBeLessThan(THREE_MB);
  });

  it('packs and unpacks a stored frame through the boundary', async () => {
    const { codec } = await loadCore();
    const data = new TextEncoder().encode('hello from the edge');
    const frame = codec.pack(data, { algorithm: 'stored' });
    expect(codec.inspect(frame)).toMatchObject({ algorithm: 'stored', originalLength: data.length, headerLength: 11 });
    expect(codec.unpack(frame, 1024)).toEqual(data);
    expect(codec.checksum(data)).toBe(codec.inspect(frame).checksum);
  });

  it('turns core errors into typed CoreErrors with stable codes', async () => {
    const { codec } = await loadCore();
    const frame = codec.pack(new Uint8Array(100), { algorithm: 'stored' });
    expect(() => codec.unpack(frame, 99)).toThrowError(expect.objectContaining({ code: 'too-large' }));
    expect(() => codec.unpack(new Uint8Array([1, 2, 3]), 10)).toThrowError(expect.objectContaining({ code: 'truncated' }));
    const foreign = new Uint8Array(frame);
    foreign[0] = 0x58;
    let caught: unknown;
    try {
      codec.unpack(foreign, 1000);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(CoreError);
    expect((caught as CoreError).code).toBe('bad-magic');
    expect((caught as CoreError).message).toMatch(/not an mcp-edge frame/);
  });
});
