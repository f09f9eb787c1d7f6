/**
 * `fs:rofs`: osv's read-only filesystem (format in `plugins/_rofs.ts`), stored in the image's
 * filesystem partition and read by the kernel from the disk at boot. The default filesystem.
 *
 * @module
 */

import type { Plugin } from "../core/api.ts";
import { definePlugin } from "../core/plugin.ts";

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
      // The writer and reader are imported when used, so that `osv run` does not load them.
      write: async (manifest) => (await import("./_rofs.ts")).rofsImage(manifest),
      list: async (read, size) => (await import("./_rofs.ts")).listRofs(read, size),
    }],
  });
}
