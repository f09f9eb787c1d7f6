/**
 * How `rt:native` (plugins/native.ts) collects an executable: the program, and for a dynamic one its
 * interpreter and library closure. Imported only when a build collects an app.
 *
 * @module
 */

import { basename, extname } from "../core/paths.ts";
import {
  addLibraryClosure,
  assertRunnable,
  type CollectedApp,
  ElfError,
  type Manifest,
  readElf,
  resolveLibraries,
  type RuntimeContext,
} from "../core/api.ts";

/** Collects a host executable for the image (the `collect` of `rt:native`). */
export async function collectNative(app: string, ctx: RuntimeContext): Promise<CollectedApp> {
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
