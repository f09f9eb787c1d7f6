/**
 * `rt:native`: a host x86-64 ELF executable goes into the image at `/<basename>` and is the default
 * command. Only static executables for now (no PT_INTERP).
 *
 * @module
 */

import { basename, extname } from "../core/paths.ts";
import { assertRunnableStatic, definePlugin, ElfError, type Manifest, type Plugin, readElf } from "../core/api.ts";

async function collect(app: string) {
  const fail = (why: string, cause?: unknown): never => {
    throw new Error(`Cannot build "${app}": ${why}`, cause === undefined ? undefined : { cause });
  };
  const stat = await Deno.stat(app).catch((err: unknown) => {
    return fail(err instanceof Deno.errors.NotFound ? "no such file" : `cannot read it (${String(err)})`, err);
  });
  if (stat.isDirectory) fail("it is a directory (give the path of an executable)");
  if (!stat.isFile) fail("not a regular file");
  try {
    assertRunnableStatic(await readElf(app));
  } catch (err) {
    if (err instanceof ElfError) fail(err.message);
    throw err;
  }
  const file = basename(app);
  const guestPath = `/${file}`;
  const manifest: Manifest = new Map([[guestPath, { kind: "file", hostPath: app, mode: 0o755 }]]);
  return { manifest, cmdline: guestPath, name: basename(file, extname(file)) || file };
}

async function isElf(app: string): Promise<boolean> {
  try {
    const file = await Deno.open(app);
    try {
      const magic = new Uint8Array(4);
      return (await file.read(magic)) === 4 && magic[0] === 0x7f && magic[1] === 0x45 && magic[2] === 0x4c &&
        magic[3] === 0x46;
    } finally {
      file.close();
    }
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
    description: "static x86-64 ELF executables from the host",
    runtimes: [{ name: "native", detect: isElf, collect }],
  });
}
