/**
 * Loads third-party plugins from paths or URLs (`--plugin` and `osv.json`). A plugin module
 * default-exports a Plugin or a factory returning one.
 *
 * @module
 */

import { toFileUrl } from "./paths.ts";
import type { Plugin } from "./plugin.ts";
import { resolveSpecifier } from "./config.ts";

function isPlugin(value: unknown): value is Plugin {
  return typeof value === "object" && value !== null && typeof (value as { name?: unknown }).name === "string";
}

/**
 * Imports one plugin module.
 *
 * @param specifier path (relative to `cwd`) or URL
 * @param cwd base for relative paths
 * @returns the plugin
 * @throws Error `Cannot load plugin "<specifier>": <why>`
 */
export async function loadPlugin(specifier: string, cwd: string = Deno.cwd()): Promise<Plugin> {
  const resolved = resolveSpecifier(specifier, cwd);
  const url = /^[a-z][a-z0-9+.-]*:/i.test(resolved) ? resolved : toFileUrl(resolved).href;
  const fail = (why: string, cause?: unknown): never => {
    throw new Error(`Cannot load plugin "${specifier}": ${why}`, cause === undefined ? undefined : { cause });
  };
  let module: { default?: unknown };
  try {
    // Dynamic import keeps plugins out of the static module graph (and out of `deno compile` output).
    module = await import(url);
  } catch (err) {
    return fail(err instanceof Error ? err.message.split("\n")[0] ?? err.message : String(err), err);
  }
  let exported = module.default;
  if (exported === undefined) return fail("the module has no default export");
  if (typeof exported === "function") {
    try {
      exported = await (exported as () => unknown)();
    } catch (err) {
      return fail(`its factory threw: ${err instanceof Error ? err.message : String(err)}`, err);
    }
  }
  if (!isPlugin(exported)) return fail("the default export is not a plugin (an object with a name) or a factory");
  return exported;
}

/**
 * Imports plugin modules in order.
 *
 * @param specifiers paths or URLs
 * @param cwd base for relative paths
 * @returns the plugins
 */
export async function loadPlugins(specifiers: readonly string[], cwd: string = Deno.cwd()): Promise<Plugin[]> {
  const plugins: Plugin[] = [];
  for (const specifier of specifiers) plugins.push(await loadPlugin(specifier, cwd));
  return plugins;
}
