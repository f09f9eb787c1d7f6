/**
 * `fs:ramfs`: the guest filesystem as a cpio "newc" archive, passed to the kernel as its initrd and
 * unpacked into an in-memory filesystem at boot.
 *
 * @module
 */

import type { Plugin } from "../core/api.ts";
import { definePlugin } from "../core/plugin.ts";

/**
 * The ramfs filesystem plugin.
 *
 * @returns the `fs:ramfs` plugin
 */
export function ramfs(): Plugin {
  return definePlugin({
    name: "fs:ramfs",
    description: "in-memory filesystem loaded from a cpio newc initrd",
    filesystems: [{
      name: "ramfs",
      kernelFeatures: ["fs/ramfs"],
      source: "initrd",
      // The writer and reader are imported when used, so that `osv run` does not load them.
      write: async (manifest) => (await import("./_cpio.ts")).cpioArchive(manifest),
      list: async (read, size) => (await import("./_cpio.ts")).listCpio(await read(0, size)),
    }],
  });
}
