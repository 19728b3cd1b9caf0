// A caller's model preferences (the shape of MCP sampling's modelPreferences)
// turned into what the core's model router weighs. The hints are matched here,
// not in the core, because they are names of this gateway's models: a hint
// picks an engine when it is that engine's kind ("local", "cloud") or a part
// of its model's name, the way MCP reads hints ("sonnet" matches
// "claude-3-5-sonnet"). Hints are tried in order; one that names no
// configured engine is skipped, as the specification lets a client do.
import type { EngineKind, EnginePreferences } from '../core/index.js';

/** MCP's ModelPreferences: hints in order of preference, and priorities from 0 to 1. */
export interface ModelPreferences {
  hints?: { name?: string | undefined }[] | undefined;
  costPriority?: number | undefined;
  speedPriority?: number | undefined;
  intelligencePriority?: number | undefined;
}

/** The configured engines by kind, with their model names. */
export type EngineNames = Partial<Record<EngineKind, string>>;

/** The engine of the first hint that names one of `engines`. */
export function hintedEngine(hints: ModelPreferences['hints'], engines: EngineNames): EngineKind | undefined {
  for (const hint of hints ?? []) {
    const name = hint.name?.trim().toLowerCase();
    if (!name) continue;
    // Local first when a hint fits both: the default engine of the router.
    for (const kind of ['local', 'cloud'] as const) {
      const model = engines[kind]?.toLowerCase();
      if (model !== undefined && (name === kind || model.includes(name))) return kind;
    }
  }
  return undefined;
}

/** The router's input for `preferences`: its hint resolved, its priorities as they are. */
export function enginePreferences(preferences: ModelPreferences | undefined, engines: EngineNames): EnginePreferences | undefined {
  if (!preferences) return undefined;
  const hinted = hintedEngine(preferences.hints, engines);
  const { costPriority, speedPriority, intelligencePriority } = preferences;
  return {
    ...(hinted ? { hinted } : {}),
    ...(costPriority !== undefined ? { costPriority } : {}),
    ...(speedPriority !== undefined ? { speedPriority } : {}),
    ...(intelligencePriority !== undefined ? { intelligencePriority } : {}),
  };
}
