/**
 * What a plugin is: a named object listing the providers it brings and the hooks it implements.
 *
 * @module
 */

import type { PipelineHooks } from "./hooks.ts";
import type { FilesystemProvider, HypervisorProvider, ImageFormatProvider, RuntimeProvider } from "./providers.ts";

/** The commands a plugin can be limited to. */
export type OsvCommand = "build" | "run";

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
