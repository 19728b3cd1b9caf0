// The built-in plugins, each built only when its section of mcp-edge.toml says
// `enabled = true`. Nothing here runs, opens or lists anything otherwise.
import type { PluginSettings } from '../config/resolve.js';
import type { Plugin } from '../providers/local/provider.js';
import type { Logger } from '../telemetry/log.js';
import { filesPlugin } from './files.js';
import { shellPlugin } from './shell.js';
import { sqlitePlugin } from './sqlite.js';

/** The built-in plugins the configuration enables (config/resolve.ts), ready for `gateway.plugins.use`. */
export async function configuredPlugins(enabled: PluginSettings, log?: Logger): Promise<Plugin[]> {
  const plugins: Plugin[] = [];
  if (enabled.files) plugins.push(await filesPlugin(enabled.files));
  if (enabled.sqlite) plugins.push(await sqlitePlugin(enabled.sqlite));
  if (enabled.shell) plugins.push(await shellPlugin(enabled.shell, log));
  return plugins;
}

export { filesPlugin, shellPlugin, sqlitePlugin };
export { PluginConfigError, Refusal } from './common.js';
export type { RefusalCode } from './common.js';
