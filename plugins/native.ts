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

import { basename, extname } from "../core/paths.ts";
import {
  addLibraryClosure,
  assertRunnable,
  type CollectedApp,
  definePlugin,
  ElfError,
  type Manifest,
  type Plugin,
  readElf,
  resolveLibraries,
  type RuntimeContext,
} from "../core/api.ts";

async function collect(app: string, ctx: RuntimeContext): Promise<CollectedApp> {
  const fail = (why: string, cause?: unknown): never => {
    throw new Error(`Cannot build "${app}": ${why}`, cause === undefined ? undefined : { cause });
  };
  const stat = await Deno.stat(app).catch((err: unknown) => {
    return fail(err instanceof Deno.errors.NotFound ? "no such file" : `cannot read it (${String(err)})`, err);
  });
  if (stat.isDirectory) fail("it is a directory (give the path of an executable)");
  if (!stat.isFile) fail("not a regular file");
  const elf = await readElf(app).catch((err: unknown) =>
    fail(err instanceof ElfError ? err.message : String(err), err)
  );
  try {
    assertRunnable(elf);
  } catch (err) {
    if (err instanceof ElfError) fail(err.message);
    throw err;
  }
  const file = basename(app);
  const guestPath = `/${file}`;
  const manifest: Manifest = new Map([[guestPath, { kind: "file", hostPath: app, mode: 0o755 }]]);
  const extra = ctx.config.libraries;
  if (elf.interpreter !== null || extra.length > 0) {
    try {
      const placed = addLibraryClosure(manifest, await resolveLibraries(app, { extra, glibcUnwinder: true }));
      const hidden = placed.filter((path) => path.startsWith("/tmp/"));
      if (hidden.length > 0) {
        ctx.warn(`the guest mounts a tmpfs at /tmp, which hides ${hidden.join(", ")} at run time`);
      }
    } catch (err) {
      // LibraryError names the library, who needs it and where it was looked for; a corrupt host
      // ld.so.cache names the cache.
      fail(err instanceof Error ? err.message : String(err), err);
    }
  }
  return { manifest, cmdline: guestPath, name: basename(file, extname(file)) || file };
}

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
    runtimes: [{ name: "native", detect: isElf, collect }],
  });
}
