/**
 * An example third-party plugin, loaded in tests with `--plugin tests/plugins/example_plugin.ts`.
 *
 * It adds `/etc/motd` to every image through the `manifest` hook, and shows the factory shape
 * (`interface Options`, `defaults`, a function returning the plugin) and an option of its own for
 * `osv build` (`--motd TEXT`, or `"options": { "motd": "..." }` in osv.json), read in the `config` hook.
 *
 * @module
 */

import { addEntry, definePlugin, type Plugin } from "../../mod.ts";

/** Options of the motd plugin. */
export interface Options {
  /** Text of /etc/motd. */
  message?: string;
}

const defaults = { message: "Welcome to osv\n" } satisfies Options;

/**
 * The `example:motd` plugin.
 *
 * @param options the message
 * @returns the plugin
 */
export function motd(options: Options = {}): Plugin {
  let message = options.message ?? defaults.message;
  return definePlugin({
    name: "example:motd",
    description: "adds /etc/motd",
    options: [{ name: "motd", value: "text", description: "example: the text of /etc/motd" }],
    hooks: {
      config(config) {
        const given = config.options["motd"];
        if (typeof given === "string") message = `${given}\n`;
      },
      manifest(manifest, ctx) {
        if (manifest.has("/etc/motd")) ctx.warn("replacing the existing /etc/motd");
        addEntry(manifest, "/etc/motd", { kind: "file", bytes: new TextEncoder().encode(message), mode: 0o644 });
      },
    },
  });
}

export default motd;
