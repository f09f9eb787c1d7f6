/**
 * Where osv keeps what it computes once per host: built kernels (kernel/build.ts), kernels extracted from
 * images (core/bootcache.ts) and probe results such as QEMU's disk I/O mode (hypervisors/_qemu_aio.ts).
 *
 * @module
 */

/**
 * The cache directory: `$OSV_CACHE_DIR`, else `$XDG_CACHE_HOME/osv`, else `~/.cache/osv`.
 *
 * @returns the directory (it may not exist yet)
 * @example
 * ```ts
 * import { osvCacheDir } from "./cachedir.ts";
 * if (!osvCacheDir().startsWith("/")) throw new Error();
 * ```
 */
export function osvCacheDir(): string {
  const explicit = Deno.env.get("OSV_CACHE_DIR");
  if (explicit) return explicit;
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  if (xdg) return `${xdg}/osv`;
  return `${Deno.env.get("HOME") ?? "/tmp"}/.cache/osv`;
}
