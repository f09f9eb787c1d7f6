/**
 * Kernels extracted from images, kept for the next `osv run`: an image's header names its kernel by the
 * hash of the kernel's build inputs (sources, flags, features: kernel/build.ts), so every image built with
 * the same kernel boots from one extracted copy in `<cache>/boot/` and `osv run` skips writing it again.
 *
 * @module
 */

import { osvCacheDir } from "./cachedir.ts";
import { extractRange, type ImageHeader } from "./image.ts";
import type { DiskReader } from "./providers.ts";

/** The hashes kernel/build.ts writes (hex); anything else is never used as a file name. */
const KERNEL_HASH = /^[0-9a-f]{16,64}$/;

/**
 * The path of the image's kernel on the host: the cached copy for its kernel hash (extracted there first
 * if missing), or, for an image without a usable hash or when the cache cannot be written, a copy
 * extracted to `fallbackPath`.
 *
 * @param disk the image's reader
 * @param header the image's header
 * @param fallbackPath where to extract the kernel when the cache is not used
 * @param cacheDir cache root (default: {@linkcode osvCacheDir})
 * @returns a path to the kernel ELF
 */
export async function imageKernel(
  disk: DiskReader,
  header: ImageHeader,
  fallbackPath: string,
  cacheDir: string = osvCacheDir(),
): Promise<string> {
  const range = { offset: header.kernelOffset, size: header.kernelSize };
  if (!KERNEL_HASH.test(header.kernelHash)) {
    await extractRange(disk, range, fallbackPath);
    return fallbackPath;
  }
  const dir = `${cacheDir}/boot`;
  const path = `${dir}/kernel-${header.kernelHash}-${header.kernelSize}.elf`;
  if (sizeOf(path) === header.kernelSize) return path;
  // Extracted under a private name and renamed, so a run started meanwhile never sees half a kernel.
  const partial = `${path}.${Deno.pid}.partial`;
  try {
    Deno.mkdirSync(dir, { recursive: true });
    await extractRange(disk, range, partial);
    Deno.renameSync(partial, path);
    return path;
  } catch {
    // A read-only or full cache: boot from a private copy instead.
    removeQuietly(partial);
    await extractRange(disk, range, fallbackPath);
    return fallbackPath;
  }
}

function sizeOf(path: string): number | null {
  try {
    return Deno.statSync(path).size;
  } catch {
    return null;
  }
}

function removeQuietly(path: string): void {
  try {
    Deno.removeSync(path);
  } catch {
    // Never created.
  }
}
