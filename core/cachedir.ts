/**
 * osv's cache directory: built kernels (kernel/build.ts) and kernels extracted from images
 * (core/bootcache.ts) live there.
 *
 * @module
 */

/**
 * The cache directory: `$OSV_CACHE_DIR`, else `$XDG_CACHE_HOME/osv`, else `~/.cache/osv`.
 *
 * @returns an absolute or relative path; it may not exist yet
 */
export function osvCacheDir(): string {
  const explicit = Deno.env.get("OSV_CACHE_DIR");
  if (explicit) return explicit;
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  if (xdg) return `${xdg}/osv`;
  return `${Deno.env.get("HOME") ?? "/tmp"}/.cache/osv`;
}
