/**
 * `rt:native`: a host x86-64 ELF executable goes into the image at `/<basename>` and is the default
 * command.
 *
 * A static program is all there is. A dynamically linked one brings its interpreter (PT_INTERP) and the
 * closure of its DT_NEEDED libraries, found as glibc's ld.so finds them (core/libraries.ts), plus the
 * libraries named with `--lib` (for `dlopen()`) and theirs, and glibc's unwinder `libgcc_s.so.1` (which it
 * `dlopen()`s for `pthread_exit` and `pthread_cancel`) when the host has it. Those go to the same paths as on the host,
 * with the symbolic links on the way kept as links, and a generated /etc/ld.so.cache lists every library,
 * so that the guest's ld.so finds each at once, also where the program's `$ORIGIN` differs from the host's
 * (the program itself sits at `/<basename>`).
 *
 * @module
 */

import type { Plugin } from "../core/api.ts";
import { definePlugin } from "../core/plugin.ts";

async function isElf(app: string): Promise<boolean> {
  try {
    using file = await Deno.open(app);
    const magic = new Uint8Array(4);
    return (await file.read(magic)) === 4 && magic[0] === 0x7f && magic[1] === 0x45 && magic[2] === 0x4c &&
      magic[3] === 0x46;
  } catch {
    return false;
  }
}

/**
 * The native runtime plugin.
 *
 * @returns the `rt:native` plugin
 */
export function native(): Plugin {
  return definePlugin({
    name: "rt:native",
    description: "x86-64 ELF executables from the host, static or with their shared libraries",
    runtimes: [{
      name: "native",
      detect: isElf,
      // The ELF reader and library resolver are imported by builds only.
      collect: async (app, ctx) => (await import("./_native_collect.ts")).collectNative(app, ctx),
    }],
  });
}
