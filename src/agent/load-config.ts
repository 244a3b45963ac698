/**
 * Loading the agent's configuration with the data sources it may name: the built-in ones, and
 * the plugins its `plugins:` list loads (src/plugins/load-plugins.ts) before decoding.
 */
import { decodeAgentConfig, readConfigFile, type AgentConfig } from '../config/index.js';
import { loadPlugins } from '../plugins/load-plugins.js';
import '../adapters/builtin.js';

/** Reads the file, loads its plugins, decodes it; throws `ConfigError` listing every problem. */
export async function loadAgentConfigWithPlugins(file: string, env: NodeJS.ProcessEnv = process.env): Promise<AgentConfig> {
  const text = readConfigFile(file);
  await loadPlugins(text, file, env);
  return decodeAgentConfig(text, file, env);
}

/** Decodes with the data sources registered so far (built-ins, and plugins already loaded). */
export function loadAgentConfig(file: string, env: NodeJS.ProcessEnv = process.env): AgentConfig {
  return decodeAgentConfig(readConfigFile(file), file, env);
}
