/**
 * `fs:rofs`: osv's read-only filesystem (format in `plugins/_rofs.ts`), stored in the image's
 * filesystem partition and read by the kernel from the disk at boot. The default filesystem.
 *
 * @module
 */

import { definePlugin, type Plugin } from "../core/api.ts";
import { listRofs, rofsImage } from "./_rofs.ts";

/**
 * The rofs filesystem plugin.
 *
 * @returns the `fs:rofs` plugin
 */
export function rofs(): Plugin {
  return definePlugin({
    name: "fs:rofs",
    description: "compact read-only filesystem read from the image's disk",
    filesystems: [{
      name: "rofs",
      kernelFeatures: ["fs/rofs"],
      write: (manifest) => rofsImage(manifest),
      list: (read, size) => listRofs(read, size),
    }],
  });
}
