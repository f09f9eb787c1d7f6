/**
 * The project config file `osv.json` (in the current directory, else next to the app or image).
 *
 * ```json
 * {
 *   "plugins": ["./plugins/motd.ts", "https://example.com/osv-plugin.ts"],
 *   "options": { "python-stdlib": "full", "venv": "./venv" }
 * }
 * ```
 *
 * Plugin paths are relative to the config file. `options` gives values to the `osv build` options plugins
 * declare (the same names as their flags; flags given on the command line win); paths among them are
 * relative to the config file too (checked and resolved by core/options.ts once the plugins are known).
 *
 * @module
 */

import { dirname, isAbsolute, resolve } from "./paths.ts";

/** File name looked for. */
export const CONFIG_FILE = "osv.json";

/** The parsed config. */
export interface ProjectConfig {
  /** Path of the file it was read from, `null` when there is none. */
  path: string | null;
  /** Plugin specifiers, paths already resolved against the config's directory. */
  plugins: string[];
  /** Values of plugin options by name, as written (unchecked: the plugins declaring them may load later). */
  options: Record<string, unknown>;
}

/**
 * Finds and reads `osv.json`.
 *
 * @param options the current directory and the app/image path given on the command line
 * @returns the config (empty when no file exists)
 * @throws Error when the file exists but is not valid
 */
export function loadProjectConfig(options: { cwd: string; near?: string }): ProjectConfig {
  const candidates = [resolve(options.cwd, CONFIG_FILE)];
  if (options.near !== undefined) candidates.push(resolve(options.cwd, dirname(options.near), CONFIG_FILE));
  for (const path of candidates) {
    let text: string;
    try {
      // Sync: one small file on the start-up path; the first async op costs more (thread pool start).
      text = Deno.readTextFileSync(path);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) continue;
      throw err;
    }
    return parseProjectConfig(text, path);
  }
  return { path: null, plugins: [], options: {} };
}

/**
 * Parses and validates the config text.
 *
 * @param text JSON text
 * @param path the file, for messages and resolving plugin paths
 * @returns the config
 * @throws Error `Cannot read config "<path>": <why>`
 */
export function parseProjectConfig(text: string, path: string): ProjectConfig {
  const fail = (why: string): never => {
    throw new Error(`Cannot read config "${path}": ${why}`);
  };
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    fail(`not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) return fail("expected a JSON object");
  const plugins = (data as Record<string, unknown>).plugins ?? [];
  if (!Array.isArray(plugins) || !plugins.every((p) => typeof p === "string")) {
    return fail(`"plugins" must be an array of strings`);
  }
  const options = (data as Record<string, unknown>).options ?? {};
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    return fail(`"options" must be an object (option name -> value)`);
  }
  return {
    path,
    plugins: plugins.map((p: string) => resolveSpecifier(p, dirname(path))),
    options: { ...options as Record<string, unknown> },
  };
}

/**
 * Makes a plugin specifier absolute: URLs and `npm:`/`jsr:` stay, paths are resolved against `base`.
 *
 * @param specifier path or URL
 * @param base directory relative paths start from
 * @returns a path or URL string
 */
export function resolveSpecifier(specifier: string, base: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(specifier) && !/^[a-z]:[\\/]/i.test(specifier)) return specifier;
  return isAbsolute(specifier) ? specifier : resolve(base, specifier);
}
