// The [[upstreams]], [routing] and [aggregation] sections: defaults, and typed
// errors that name the key. Plus the namespacing rules on their own.
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../host/src/config/load.js';
import { mergeNames, type Offered } from '../host/src/gateway/aggregator/naming.js';

describe('upstream config', () => {
  it('fills defaults for an upstream, routing and aggregation', () => {
    const config = parseConfig('[[upstreams]]\nid = "a"\ntransport = "stdio"\ncommand = "node"\n', 'mcp-edge.toml');
    expect(config.upstreams[0]).toMatchObject({ id: 'a', args: [], env: {}, timeout_ms: 30_000, include: [], exclude: [], locality_ms: 0, session_mode: 'shared' });
    expect(config.upstreams[0]?.restart).toMatchObject({ max_restarts: 10, initial_backoff_ms: 500 });
    expect(config.aggregation).toEqual({ prefix_mode: 'on-collision', separator: '__' });
    expect(config.routing.max_attempts).toBe(3);
  });

  it.each([
    ['[[upstreams]]\nid = "a"\ntransport = "stdio"\n', /upstreams\.0\.command: a stdio upstream needs a command/],
    ['[[upstreams]]\nid = "a"\ntransport = "http"\n', /upstreams\.0\.url: an http upstream needs a url/],
    ['[[upstreams]]\nid = "a b"\ntransport = "stdio"\ncommand = "x"\n', /upstreams\.0\.id/],
    ['[[upstreams]]\nid = "a"\ntransport = "stdio"\ncommand = "x"\n[[upstreams]]\nid = "a"\ntransport = "stdio"\ncommand = "y"\n', /used twice/],
    ['[[upstreams]]\nid = "a"\ntransport = "ws"\ncommand = "x"\n', /upstreams\.0\.transport/],
    ['[[upstreams]]\nid = "a"\ntransport = "stdio"\ncommand = "x"\ncolour = 1\n', /unknown key colour/],
    ['[[upstreams]]\nid = "a"\ntransport = "stdio"\ncommand = "x"\nsession_mode = "per-user"\n', /upstreams\.0\.session_mode/],
    ['[aggregation]\nprefix_mode = "sometimes"\n', /aggregation\.prefix_mode/],
    ['[routing]\nlatency_alpha = 0\n', /routing\.latency_alpha/],
  ])('refuses %j with an error naming the key', (text, message) => {
    expect(() => parseConfig(text, 'mcp-edge.toml')).toThrow(ConfigError);
    expect(() => parseConfig(text, 'mcp-edge.toml')).toThrow(message);
  });
});

const offer = (provider: number, namespace: string, name: string): Offered<string> => ({ provider, namespace, name, item: `${namespace}:${name}` });
const agg = (prefixMode: 'always' | 'on-collision' | 'never') => ({ prefixMode, separator: '__' });

describe('namespacing', () => {
  const offered = [offer(0, '', 'local'), offer(1, 'a', 'echo'), offer(1, 'a', 'sum'), offer(2, 'b', 'echo'), offer(3, 'b', 'echo')];

  it('prefixes only colliding names on-collision, and merges a namespace shared by replicas', () => {
    const merged = mergeNames(offered, agg('on-collision'));
    expect(merged.map((m) => [m.name, m.replicas.map((r) => r.provider)])).toEqual([
      ['a__echo', [1]],
      ['b__echo', [2, 3]],
      ['local', [0]],
      ['sum', [1]],
    ]);
  });

  it('prefixes every namespaced name always, never the built-ins', () => {
    expect(mergeNames(offered, agg('always')).map((m) => m.name)).toEqual(['a__echo', 'a__sum', 'b__echo', 'local']);
  });

  it('turns same names into replicas under never', () => {
    const merged = mergeNames(offered, agg('never'));
    expect(merged.map((m) => [m.name, m.replicas.map((r) => r.provider)])).toEqual([
      ['echo', [1, 2, 3]],
      ['local', [0]],
      ['sum', [1]],
    ]);
  });

  it('keeps the first provider when a prefixed name meets a literal one, and reports the other', () => {
    const dropped: string[] = [];
    const merged = mergeNames([offer(2, 'a', 'x'), offer(1, 'z', 'a__x'), offer(3, 'b', 'x')], agg('on-collision'), (name, o) => dropped.push(`${name}@${o.provider}`));
    expect(merged.map((m) => `${m.name}@${m.replicas[0]!.provider}`)).toEqual(['a__x@1', 'b__x@3']);
    expect(dropped).toEqual(['a__x@2']);
  });

  it('gives the same order whatever order the providers report in', () => {
    const shuffled = [...offered].reverse();
    expect(mergeNames(shuffled, agg('on-collision'))).toEqual(mergeNames(offered, agg('on-collision')));
  });
});
