// The built-in plugins, each built only when its section of mcp-edge.toml says
// `enabled = true`. Nothing here runs, opens or lists anything otherwise, and
// a plugin's modules load only when it is enabled (bench/startup/README.md).
import type { PluginSettings } from '../config/resolve.js';
import type { Plugin } from '../providers/local/provider.js';
import type { Logger } from '../telemetry/log.js';

/** The built-in plugins the configuration enables (config/resolve.ts), ready for `gateway.plugins.use`. */
export async function configuredPlugins(enabled: PluginSettings, log?: Logger): Promise<Plugin[]> {
  const plugins: Plugin[] = [];
  if (enabled.files) plugins.push(await (await import('./files.js')).filesPlugin(enabled.files));
  if (enabled.sqlite) plugins.push(await (await import('./sqlite.js')).sqlitePlugin(enabled.sqlite));
  if (enabled.shell) plugins.push(await (await import('./shell.js')).shellPlugin(enabled.shell, log));
  return plugins;
}
