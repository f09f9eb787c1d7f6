/**
 * Where glibc's ld.so looks for one shared library, and what it accepts there.
 *
 * For a name without a slash, requested by object L (the "loader"), in this order:
 * 1. DT_RPATH of L, then of the object that loaded L, and so on up to the program, then the program's
 *    own DT_RPATH; all skipped when L has DT_RUNPATH (an object with DT_RUNPATH has no DT_RPATH).
 * 2. LD_LIBRARY_PATH: not used. It belongs to the environment a program runs in, which the build does
 *    not know; the guest's `--env=LD_LIBRARY_PATH=...` still works at run time for what is in the image.
 * 3. DT_RUNPATH of L only.
 * 4. The host's ld.so.cache (or, when there is none, the directories of /etc/ld.so.conf).
 * 5. The default directories.
 * Steps 4 and 5 are skipped when L has DF_1_NODEFLIB. `$ORIGIN`, `$LIB` and `$PLATFORM` are expanded;
 * relative directories (relative to the process's working directory at run time) are skipped.
 *
 * Each candidate must be an ELF64 x86-64 shared object. Wrong-architecture files are skipped as ld.so
 * skips them; a file that is not ELF at all, or not a shared object, is an error (ld.so fails on it).
 * CPU-specific subdirectories (glibc-hwcaps/x86-64-v3, tls, x86_64) and cache entries for them are not
 * used: the guest CPU may lack those features (QEMU's TCG CPU does).
 *
 * @module
 */

import { DF_1_NODEFLIB, EM_X86_64, readElfIdentity } from "./elf.ts";
import { type LdCacheEntry, lookupLdCache } from "./ldcache.ts";

/** What `$LIB` expands to with Debian's multiarch glibc on x86-64. */
export const DST_LIB = "lib/x86_64-linux-gnu";
/** What `$PLATFORM` expands to on x86-64 (AT_PLATFORM). */
export const DST_PLATFORM = "x86_64";

/** The directories ld.so searches last, in order. */
export const DEFAULT_LIBRARY_DIRS: readonly string[] = [
  "/lib/x86_64-linux-gnu",
  "/usr/lib/x86_64-linux-gnu",
  "/lib64",
  "/usr/lib64",
  "/lib",
  "/usr/lib",
];

/** The host's library configuration the search uses (all of it injectable for tests). */
export interface HostLibraryConfig {
  /** Entries of ld.so.cache, `null` when the host has no cache. */
  cache: readonly LdCacheEntry[] | null;
  /** The cache file, for messages. */
  cachePath: string;
  /** Directories of ld.so.conf, searched instead of the cache when there is none. */
  confDirs: readonly string[];
  /** The default directories. */
  defaultDirs: readonly string[];
}

/** An object that requests libraries: what the search needs to know about it. */
export interface SearchingObject {
  /** Path it was loaded from, for messages. */
  path: string;
  /** `$ORIGIN`: the directory of the object (for the program, of its resolved path). */
  origin: string;
  rpath: string | null;
  runpath: string | null;
  flags1: number;
  /** The object whose dependency this one is; `null` for the program. */
  loader: SearchingObject | null;
}

/** A file that was looked at and passed over. */
export interface SkippedCandidate {
  path: string;
  why: string;
}

/** Where one search looked. */
export interface SearchTrace {
  /** One line per place, in search order (`RUNPATH of /app: /opt/lib, /usr/lib`). */
  places: string[];
  skipped: SkippedCandidate[];
}

/** The search found the library (`path`), or not (`null`); `trace` says where it looked. */
export interface SearchResult {
  path: string | null;
  trace: SearchTrace;
}

/** A candidate ld.so refuses outright (it would fail loading the program), e.g. a linker script. */
export class BadLibraryError extends Error {
  constructor(readonly path: string, why: string) {
    super(`"${path}" ${why}`);
    this.name = "BadLibraryError";
  }
}

const DST = /\$(?:\{(ORIGIN|LIB|PLATFORM)\}|(ORIGIN|LIB|PLATFORM)(?![A-Za-z0-9_]))/g;

/**
 * Expands the dynamic string tokens of one search directory.
 *
 * @param dir a DT_RPATH/DT_RUNPATH element
 * @param origin the object's `$ORIGIN`
 * @returns the directory
 * @example
 * ```ts
 * import { expandTokens } from "./ldsearch.ts";
 * if (expandTokens("$ORIGIN/../${LIB}", "/opt/app/bin") !== "/opt/app/bin/../lib/x86_64-linux-gnu") throw new Error();
 * ```
 */
export function expandTokens(dir: string, origin: string): string {
  return dir.replace(DST, (_, braced?: string, bare?: string) => {
    const token = braced ?? bare;
    return token === "ORIGIN" ? origin : token === "LIB" ? DST_LIB : DST_PLATFORM;
  });
}

/**
 * The absolute directories of a colon-separated path list: tokens expanded, trailing slashes removed,
 * otherwise as written (`/opt/app/bin/../lib`: ld.so opens that path, and so does the guest).
 *
 * @param list a DT_RPATH or DT_RUNPATH value
 * @param origin the object's `$ORIGIN`
 * @returns the directories in order, relative ones left out
 */
export function searchDirs(list: string, origin: string): string[] {
  const dirs: string[] = [];
  for (const element of list.split(":")) {
    const dir = expandTokens(element, origin).replace(/(?<=.)\/+$/, "");
    if (dir.startsWith("/") && !dirs.includes(dir)) dirs.push(dir);
  }
  return dirs;
}

/** Whether ld.so would use the file as an x86-64 library: `ok`, skip it (`skip`) or fail (throws). */
async function judge(path: string): Promise<{ ok: true } | { ok: false; why: string } | null> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch {
    return null; // absent (or a dangling link): ld.so moves on
  }
  if (!info.isFile) return null;
  const id = await readElfIdentity(path);
  if (id === null) throw new BadLibraryError(path, "is not an ELF file (invalid ELF header)");
  if (id.bits !== 64) return { ok: false, why: `${id.bits}-bit ELF` };
  if (!id.littleEndian) return { ok: false, why: "big-endian ELF" };
  if (id.machine !== EM_X86_64) return { ok: false, why: `ELF for machine ${id.machine}, not x86-64` };
  if (id.type !== "dyn") throw new BadLibraryError(path, `is not a shared object (ELF type ${id.type})`);
  return { ok: true };
}

/**
 * Checks one file the way ld.so's open_verify does.
 *
 * @param path candidate path
 * @param trace where skipped candidates are recorded
 * @returns whether to use it
 * @throws BadLibraryError when ld.so would fail on it
 */
export async function acceptCandidate(path: string, trace: SearchTrace): Promise<boolean> {
  const verdict = await judge(path);
  if (verdict === null) return false;
  if (!verdict.ok) trace.skipped.push({ path, why: verdict.why });
  return verdict.ok;
}

async function firstIn(dirs: readonly string[], name: string, trace: SearchTrace): Promise<string | null> {
  for (const dir of dirs) {
    const path = dir === "/" ? `/${name}` : `${dir}/${name}`;
    if (await acceptCandidate(path, trace)) return path;
  }
  return null;
}

/**
 * The objects whose DT_RPATH step 1 searches: the loader, its loader, ... up to the program (every chain
 * ends there). Empty when the loader has DT_RUNPATH; an object with DT_RUNPATH has no DT_RPATH.
 */
function rpathChain(loader: SearchingObject): SearchingObject[] {
  if (loader.runpath !== null) return [];
  const chain: SearchingObject[] = [];
  for (let l: SearchingObject | null = loader; l !== null; l = l.loader) {
    if (l.rpath !== null && l.runpath === null) chain.push(l);
  }
  return chain;
}

/**
 * Searches for a library the way ld.so does (see the module documentation for the order).
 *
 * @param name the DT_NEEDED name, without a slash
 * @param loader the object that needs it
 * @param host the host's cache, ld.so.conf directories and default directories
 * @returns the path found, or `null`, with where it looked
 * @throws BadLibraryError when a candidate is a file ld.so would fail on
 */
export async function searchLibrary(
  name: string,
  loader: SearchingObject,
  host: HostLibraryConfig,
): Promise<SearchResult> {
  const trace: SearchTrace = { places: [], skipped: [] };
  const tryDirs = async (label: string, dirs: string[]) => {
    if (dirs.length === 0) return null;
    trace.places.push(`${label}: ${dirs.join(", ")}`);
    return await firstIn(dirs, name, trace);
  };
  for (const l of rpathChain(loader)) {
    const found = await tryDirs(`RPATH of ${l.path}`, searchDirs(l.rpath!, l.origin));
    if (found) return { path: found, trace };
  }
  if (loader.runpath !== null) {
    const found = await tryDirs(`RUNPATH of ${loader.path}`, searchDirs(loader.runpath, loader.origin));
    if (found) return { path: found, trace };
  }
  if ((loader.flags1 & DF_1_NODEFLIB) !== 0) {
    trace.places.push(`not the cache or the default directories (${loader.path} has DF_1_NODEFLIB)`);
    return { path: null, trace };
  }
  if (host.cache !== null) {
    trace.places.push(host.cachePath);
    const cached = lookupLdCache(host.cache, name);
    if (cached !== null && await acceptCandidate(cached, trace)) return { path: cached, trace };
  } else {
    const found = await tryDirs(`ld.so.conf directories, as there is no ${host.cachePath}`, [...host.confDirs]);
    if (found) return { path: found, trace };
  }
  const found = await tryDirs("default directories", [...host.defaultDirs]);
  return { path: found, trace };
}
