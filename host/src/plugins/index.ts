// The built-in plugins, each built only when its section of mcp-edge.toml says
// `enabled = true`. Nothing here runs, opens or lists anything otherwise.
import type { PluginsConfig } from '../config/schema.js';
import type { Plugin } from '../providers/local/provider.js';
import { filesPlugin } from './files.js';
import { shellPlugin } from './shell.js';
import { sqlitePlugin } from './sqlite.js';

/** The built-in plugins the configuration enables, ready for `gateway.plugins.use`. */
export async function configuredPlugins(config: PluginsConfig): Promise<Plugin[]> {
  const plugins: Plugin[] = [];
  if (config.files.enabled) plugins.push(await filesPlugin(config.files));
  if (config.sqlite.enabled) plugins.push(await sqlitePlugin(config.sqlite));
  if (config.shell.enabled) plugins.push(await shellPlugin(config.shell));
  return plugins;
}

export { filesPlugin, shellPlugin, sqlitePlugin };
export { PluginConfigError, Refusal } from './common.js';
export type { RefusalCode } from './common.js';
