/**
 * What a plugin is: a named object listing the providers it brings and the hooks it implements.
 *
 * @module
 */

import type { PipelineHooks } from "./hooks.ts";
import type { FilesystemProvider, HypervisorProvider, ImageFormatProvider, RuntimeProvider } from "./providers.ts";

/** The commands a plugin can be limited to. */
export type OsvCommand = "build" | "run";

/**
 * An option of `osv build` that a plugin reads from `BuildConfig.options`: given on the command
 * line as `--<name>`, or in `osv.json` as `"options": { "<name>": value }`.
 */
export interface PluginOption {
  /** Lowercase words joined by `-` (`python-stdlib`): the flag without its dashes and the key in osv.json. */
  name: string;
  /** Placeholder of the value in the help (`mode` gives `--python-stdlib <mode>`); absent for a flag. */
  value?: string;
  /** One line for the help. */
  description: string;
  /** Accepted values. */
  choices?: readonly string[];
  /** May be given several times: the value is then an array of strings, in order. */
  repeatable?: boolean;
  /**
   * The value is a host path: a relative one is taken from the current directory (command line) or from
   * the directory of the osv.json that gives it, so the plugin always gets an absolute path.
   */
  path?: boolean;
}

/** A plugin: built-ins and third-party ones have exactly this shape. */
export interface Plugin {
  /** Unique name, family first: `fs:ramfs`, `hv:qemu`, `fmt:raw`, `rt:native`, `acme:motd`. */
  name: string;
  /** Run before (`pre`) or after (`post`) the plugins without `enforce`; order is stable otherwise. */
  enforce?: "pre" | "post";
  /** Only take part in this command (default: every command). */
  apply?: OsvCommand;
  /** Short description for `osv plugins`. */
  description?: string;
  filesystems?: readonly FilesystemProvider[];
  hypervisors?: readonly HypervisorProvider[];
  formats?: readonly ImageFormatProvider[];
  runtimes?: readonly RuntimeProvider[];
  /** Options of `osv build` the plugin reads (names unique over all plugins and osv build's own flags). */
  options?: readonly PluginOption[];
  /** Kernel features needed whenever this plugin is used. */
  kernelFeatures?: readonly string[];
  hooks?: Partial<PipelineHooks>;
}

/** A module's default export may be a plugin or a factory returning one. */
export type PluginFactory<Options = undefined> = (options?: Options) => Plugin | Promise<Plugin>;

/**
 * Declares a plugin. An identity function that gives the object its type and checks its name.
 *
 * @param plugin the plugin object
 * @returns the same object
 * @throws TypeError when the name is empty
 * @example
 * ```ts
 * import { definePlugin } from "../mod.ts";
 * const motd = definePlugin({
 *   name: "acme:motd",
 *   hooks: {
 *     manifest(manifest) {
 *       manifest.set("/etc/motd", { kind: "file", bytes: new TextEncoder().encode("hi\n"), mode: 0o644 });
 *     },
 *   },
 * });
 * if (motd.name !== "acme:motd") throw new Error();
 * ```
 */
export function definePlugin<P extends Plugin>(plugin: P): P {
  if (typeof plugin.name !== "string" || plugin.name.trim() === "") {
    throw new TypeError("Cannot define a plugin without a name");
  }
  return plugin;
}
