/**
 * The shared libraries a dynamically linked program loads: its interpreter (PT_INTERP) and the closure
 * of DT_NEEDED, resolved as glibc's ld.so resolves them (core/ldsearch.ts) and in the same order
 * (breadth first, an already loaded object reused by name or by file), plus libraries the program would
 * `dlopen()`, given by name.
 *
 * Everything is read with the TypeScript ELF reader; no host tool (`ldd`, `ldconfig`) is run.
 *
 * @module
 */

import { type DynamicInfo, ElfError, type ElfInfo, EM_X86_64, readElf } from "./elf.ts";
import { readLdCache, writeLdCache } from "./ldcache.ts";
import { addHostFileKeepingLinks } from "./add.ts";
import { addEntry, type Manifest } from "./manifest.ts";
import { readLdSoConf } from "./ldconf.ts";
import {
  acceptCandidate,
  BadLibraryError,
  DEFAULT_LIBRARY_DIRS,
  type HostLibraryConfig,
  type SearchingObject,
  searchLibrary,
  type SearchTrace,
} from "./ldsearch.ts";
import { dirname, resolve } from "./paths.ts";

/** More objects than any real program loads: beyond this the input is broken, not big. */
const MAX_OBJECTS = 4096;

/** One shared library of the closure. */
export interface SharedLibrary {
  /** The name it was first requested by (a DT_NEEDED entry or an extra library's name). */
  name: string;
  /** Every name that resolved to it (DT_NEEDED names, its soname), sorted. */
  names: string[];
  /** Where ld.so opens it: the search directory joined with the name (symbolic links not resolved). */
  path: string;
  /** The object whose DT_NEEDED brought it in; `null` for an extra library. */
  neededBy: string | null;
}

/** A program's interpreter and libraries. */
export interface LibraryClosure {
  /** PT_INTERP (`/lib64/ld-linux-x86-64.so.2`), `null` for a static program. */
  interpreter: string | null;
  /** The libraries in load order, the interpreter excluded. */
  libraries: SharedLibrary[];
}

/** Options of {@linkcode resolveLibraries}. */
/** What glibc dlopen()s for unwinding (see {@linkcode ResolveOptions.glibcUnwinder}). */
export const GLIBC_UNWINDER = "libgcc_s.so.1";

export interface ResolveOptions {
  /**
   * Libraries the program loads with `dlopen()`: names (`libnss_files.so.2`, searched as if the program
   * asked for them) or absolute paths. Their own dependencies are resolved too.
   */
  extra?: readonly string[];
  /**
   * Add `libgcc_s.so.1` when the closure has glibc's `libc.so.6` and the host has the library: glibc
   * `dlopen()`s it to unwind in `pthread_exit`, `pthread_cancel` and `backtrace` (default false: exactly
   * what ld.so loads at start, as `ldd` lists it).
   */
  glibcUnwinder?: boolean;
  /** The ld.so.cache to use (default `/etc/ld.so.cache`). */
  cachePath?: string;
  /** The ld.so.conf read when the cache does not exist (default `/etc/ld.so.conf`). */
  confPath?: string;
  /** The default directories (default {@linkcode DEFAULT_LIBRARY_DIRS}). */
  defaultDirs?: readonly string[];
}

/** A library could not be resolved: not found, or a file ld.so would refuse. */
export class LibraryError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "LibraryError";
  }
}

interface LoadedObject extends SearchingObject {
  names: Set<string>;
  dynamic: DynamicInfo | null;
  neededBy: string | null;
  firstName: string;
}

const NO_DYNAMIC: DynamicInfo = { needed: [], soname: null, rpath: null, runpath: null, flags1: 0 };

/**
 * Reads the host's library configuration: ld.so.cache, else ld.so.conf, and the default directories.
 *
 * @param options paths to use instead of the host's
 * @returns the configuration the search uses
 * @throws Error when a file exists but is corrupt
 */
export async function hostLibraryConfig(options: ResolveOptions = {}): Promise<HostLibraryConfig> {
  const cachePath = options.cachePath ?? "/etc/ld.so.cache";
  const cache = await readLdCache(cachePath);
  return {
    cache,
    cachePath,
    confDirs: cache === null ? readLdSoConf(options.confPath) ?? [] : [],
    defaultDirs: options.defaultDirs ?? DEFAULT_LIBRARY_DIRS,
  };
}

function describeTrace(trace: SearchTrace): string {
  const places = trace.places.length > 0 ? trace.places.join("; ") : "nowhere";
  const skipped = trace.skipped.map((s) => `${s.path} (${s.why})`);
  return `searched ${places}` + (skipped.length > 0 ? `; skipped ${skipped.join(", ")}` : "");
}

async function readObject(path: string, subject: string): Promise<ElfInfo> {
  try {
    return await readElf(path);
  } catch (err) {
    const why = err instanceof ElfError ? err.message : err instanceof Error ? err.message : String(err);
    throw new LibraryError(`${subject}: cannot read "${path}": ${why}`, { cause: err });
  }
}

async function realPath(path: string, subject: string): Promise<string> {
  try {
    return await Deno.realPath(path);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new LibraryError(`${subject}: cannot resolve "${path}": ${why}`, { cause: err });
  }
}

/**
 * Resolves a program's interpreter and the closure of its libraries.
 *
 * @param program host path of the executable
 * @param options extra (`dlopen`ed) libraries and the host configuration to use
 * @returns the interpreter and libraries in load order
 * @throws LibraryError naming the missing (or unusable) library, who needs it and where it was looked for
 * @throws ElfError when the program itself is not a valid ELF file
 */
export async function resolveLibraries(program: string, options: ResolveOptions = {}): Promise<LibraryClosure> {
  const host = await hostLibraryConfig(options);
  const elf = await readElf(program);
  const programPath = resolve(program);
  const programFile = await realPath(programPath, `program "${programPath}"`);
  const main: LoadedObject = {
    ...objectFields(elf.dynamic),
    path: programPath,
    // ld.so takes the program's $ORIGIN from /proc/self/exe: the path with every link resolved.
    origin: dirname(programFile),
    loader: null,
    names: new Set(),
    neededBy: null,
    firstName: programPath,
  };
  const loaded: LoadedObject[] = [main];
  const byFile = new Map<string, LoadedObject>([[programFile, main]]);

  const rtld = elf.interpreter === null ? null : await loadInterpreter(elf.interpreter, programPath);
  if (rtld !== null) {
    loaded.push(rtld);
    byFile.set(await realPath(rtld.path, `interpreter "${rtld.path}"`), rtld);
  }

  const find = (name: string) => loaded.find((o) => o.names.has(name) || o.path === name);
  const load = async (name: string, loader: LoadedObject, extra: boolean): Promise<LoadedObject | null> => {
    const existing = find(name);
    if (existing) return null;
    const who = extra ? `extra library "${name}"` : `library "${name}" needed by "${loader.path}"`;
    const path = await locate(name, loader, host, who);
    const file = await realPath(path, who);
    const same = byFile.get(file);
    if (same) {
      same.names.add(name);
      return null;
    }
    const info = await readObject(path, who);
    if (info.machine !== EM_X86_64 || info.type !== "dyn") {
      throw new LibraryError(`${who}: "${path}" is not an x86-64 shared object`);
    }
    if (loaded.length >= MAX_OBJECTS) throw new LibraryError(`${who}: more than ${MAX_OBJECTS} libraries`);
    const object: LoadedObject = {
      ...objectFields(info.dynamic),
      path,
      origin: dirname(path),
      loader,
      names: new Set([name, ...info.dynamic?.soname ? [info.dynamic.soname] : []]),
      neededBy: extra ? null : loader.path,
      firstName: name,
    };
    loaded.push(object);
    byFile.set(file, object);
    return object;
  };

  // Breadth first, as ld.so maps dependencies: a cycle ends at the first object loaded twice.
  const queue: LoadedObject[] = [main];
  const drain = async () => {
    while (queue.length > 0) {
      const object = queue.shift()!;
      for (const name of object.dynamic?.needed ?? []) {
        const added = await load(name, object, false);
        if (added) queue.push(added);
      }
    }
  };
  await drain();
  for (const name of options.extra ?? []) {
    const added = await load(name, main, true);
    if (added) queue.push(added);
    await drain();
  }
  if (options.glibcUnwinder && find("libc.so.6") && !find(GLIBC_UNWINDER)) {
    try {
      const added = await load(GLIBC_UNWINDER, main, true);
      if (added) queue.push(added);
      await drain();
    } catch (err) {
      if (!(err instanceof LibraryError)) throw err; // not on this host: glibc then says so if it needs it
    }
  }

  return {
    interpreter: elf.interpreter,
    libraries: loaded.filter((o) => o !== main && o !== rtld).map((o) => ({
      name: o.firstName,
      names: [...o.names].sort(),
      path: o.path,
      neededBy: o.neededBy,
    })),
  };
}

function objectFields(dynamic: DynamicInfo | null) {
  const d = dynamic ?? NO_DYNAMIC;
  return { dynamic, rpath: d.rpath, runpath: d.runpath, flags1: d.flags1 };
}

async function loadInterpreter(path: string, program: string): Promise<LoadedObject> {
  const subject = `interpreter "${path}" of "${program}"`;
  if (!path.startsWith("/")) throw new LibraryError(`${subject} is not an absolute path`);
  try {
    await Deno.stat(path);
  } catch {
    throw new LibraryError(`${subject} does not exist on this host`);
  }
  const info = await readObject(path, subject);
  if (info.machine !== EM_X86_64) throw new LibraryError(`${subject} is not an x86-64 ELF file`);
  // ld.so is mapped by the kernel before anything else: DT_NEEDED entries naming its soname
  // (libc needs ld-linux-x86-64.so.2) resolve to it without a search.
  return {
    ...objectFields(info.dynamic),
    path,
    origin: dirname(path),
    loader: null,
    names: new Set([path, ...info.dynamic?.soname ? [info.dynamic.soname] : []]),
    neededBy: null,
    firstName: path,
  };
}

async function locate(name: string, loader: LoadedObject, host: HostLibraryConfig, who: string): Promise<string> {
  if (name.includes("/")) {
    // A name with a slash is a path, opened as it is (relative ones from the working directory at run time).
    if (!name.startsWith("/")) throw new LibraryError(`${who}: relative library paths are not supported`);
    const trace: SearchTrace = { places: [name], skipped: [] };
    if (await guarded(() => acceptCandidate(name, trace), who)) return name;
    throw new LibraryError(`${who} was not found (${describeTrace(trace)})`);
  }
  const result = await guarded(() => searchLibrary(name, loader, host), who);
  if (result.path === null) throw new LibraryError(`${who} was not found (${describeTrace(result.trace)})`);
  return result.path;
}

async function guarded<T>(run: () => Promise<T>, who: string): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof BadLibraryError) throw new LibraryError(`${who}: ${err.message}`, { cause: err });
    throw err;
  }
}

/** Where the guest's ld.so reads its cache. */
export const LD_SO_CACHE = "/etc/ld.so.cache";

/** Options of {@linkcode addLibraryClosure}. */
export interface AddLibrariesOptions {
  /**
   * Libraries the caller places itself (e.g. a Python venv's extension modules, copied to another guest
   * path): not added at their host path and not listed in the cache.
   */
  skip?: (path: string) => boolean;
}

/**
 * Adds an interpreter and libraries at their host paths (symbolic links on the way kept as links), and
 * a generated `/etc/ld.so.cache` naming every library by each of its names, so that the guest's ld.so
 * finds each at once (also where a program's `$ORIGIN` differs from the host's).
 *
 * @param manifest the app's manifest
 * @param closure what the program loads ({@linkcode resolveLibraries})
 * @param options libraries to leave out
 * @returns the resolved guest paths of the files added
 * @throws Error when a file cannot be added (see {@linkcode addHostFileKeepingLinks})
 */
export function addLibraryClosure(
  manifest: Manifest,
  closure: LibraryClosure,
  options: AddLibrariesOptions = {},
): string[] {
  const placed: string[] = [];
  if (closure.interpreter !== null) placed.push(addHostFileKeepingLinks(manifest, closure.interpreter));
  const cache = new Map<string, string>();
  for (const library of closure.libraries) {
    if (options.skip?.(library.path)) continue;
    placed.push(addHostFileKeepingLinks(manifest, library.path));
    for (const name of library.names) if (!name.includes("/")) cache.set(name, library.path);
  }
  if (cache.size > 0) addEntry(manifest, LD_SO_CACHE, { kind: "file", bytes: writeLdCache(cache), mode: 0o644 });
  return placed;
}
