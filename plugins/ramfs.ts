/**
 * `fs:ramfs`: the guest filesystem as a cpio "newc" archive, passed to the kernel as its initrd and
 * unpacked into an in-memory filesystem at boot.
 *
 * @module
 */

import { definePlugin, type Plugin } from "../core/api.ts";
import { cpioArchive, listCpio } from "./_cpio.ts";

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
      write: (manifest) => cpioArchive(manifest),
      list: async (read, size) => listCpio(await read(0, size)),
    }],
  });
}
