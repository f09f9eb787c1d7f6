/**
 * A host Python installation as `rt:python` sees it, without running Python: the interpreter binary, its
 * version and standard library (found as CPython's own getpath finds them), a module finder that follows
 * CPython's path-based import rules, and the closure of the modules some code imports
 * ({@linkcode selectModules}), for the `imports` selection of the standard library.
 *
 * @module
 */

import { basename, dirname, resolve } from "../core/paths.ts";
import { ElfError, readDynamicSymbols, readElf } from "../core/api.ts";
import { type PythonImport, scanImports } from "./_python_imports.ts";

/** A Python interpreter on the host and where its standard library is. */
export interface PythonInstall {
  /** The interpreter as named (`/usr/bin/python3`): the guest runs it by this path. */
  command: string;
  /** The ELF file it leads to (`/usr/bin/python3.11`). */
  binary: string;
  /** `[3, 11]`. */
  version: readonly [number, number];
  /** `sys.prefix`: the directory holding `lib/python3.X` (`/usr`). */
  prefix: string;
  /** The standard library (`/usr/lib/python3.11`). */
  stdlib: string;
  /** Its C extension modules (`/usr/lib/python3.11/lib-dynload`). */
  dynload: string;
  /** The name part of cached bytecode: `__pycache__/<module>.<tag>.pyc` (`cpython-311`). */
  cacheTag: string;
  /** File name endings of extension modules, in CPython's order of preference. */
  extensionSuffixes: readonly string[];
}

/** Thrown when an interpreter or its standard library cannot be used; the message says why. */
export class PythonInstallError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PythonInstallError";
  }
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/**
 * Finds a host interpreter's binary, version and standard library. The version comes from the binary's
 * name (`python3.11`) or, failing that, from the only `lib/python3.X` next to it; the prefix is the first
 * directory above the binary holding `lib/python3.X/os.py`, the landmark CPython's getpath looks for.
 *
 * @param command host path of the interpreter (links are followed)
 * @returns where everything is
 * @throws PythonInstallError when it is missing, not an ELF executable (a wrapper script such as a pyenv
 *   shim) or has no standard library
 */
export async function findPythonInstall(command: string): Promise<PythonInstall> {
  let binary: string;
  try {
    binary = await Deno.realPath(command);
  } catch {
    throw new PythonInstallError(`Python interpreter "${command}" does not exist`);
  }
  try {
    await readElf(binary);
  } catch (err) {
    const why = err instanceof ElfError ? err.message : String(err);
    throw new PythonInstallError(
      `Python interpreter "${command}" is not an ELF executable (${why}); give the real interpreter, ` +
        `e.g. the one "python3 -c 'import sys; print(sys.executable)'" names`,
      { cause: err },
    );
  }
  const above: string[] = [];
  for (let dir = dirname(binary);; dir = dirname(dir)) {
    above.push(dir);
    if (dir === "/") break;
  }
  const named = /^python(\d+)\.(\d+)$/.exec(basename(binary));
  let version: [number, number] | undefined = named ? [Number(named[1]), Number(named[2])] : undefined;
  let prefix: string | undefined;
  for (const dir of above) {
    if (version !== undefined) {
      if (isFile(`${dir}/lib/python${version[0]}.${version[1]}/os.py`)) prefix = dir;
    } else {
      const found = libVersions(dir);
      if (found.length === 1) version = found[0], prefix = dir;
      else if (found.length > 1) {
        throw new PythonInstallError(
          `Cannot tell the version of Python interpreter "${command}": ${dir}/lib holds ` +
            found.map(([a, b]) => `python${a}.${b}`).join(", "),
        );
      }
    }
    if (prefix !== undefined) break;
  }
  if (prefix === undefined || version === undefined) {
    const landmark = version === undefined ? "lib/python3.X/os.py" : `lib/python${version[0]}.${version[1]}/os.py`;
    throw new PythonInstallError(
      `Cannot find the standard library of Python interpreter "${command}" (no ${landmark} in ${above.join(", ")})`,
    );
  }
  const [major, minor] = version;
  const stdlib = `${prefix === "/" ? "" : prefix}/lib/python${major}.${minor}`;
  return {
    command: resolve(command),
    binary,
    version,
    prefix,
    stdlib,
    dynload: `${stdlib}/lib-dynload`,
    cacheTag: `cpython-${major}${minor}`,
    extensionSuffixes: [`.cpython-${major}${minor}-x86_64-linux-gnu.so`, ".abi3.so", ".so"],
  };
}

function libVersions(dir: string): [number, number][] {
  const found: [number, number][] = [];
  try {
    for (const entry of Deno.readDirSync(`${dir}/lib`)) {
      const m = /^python(\d+)\.(\d+)$/.exec(entry.name);
      if (m && isFile(`${dir}/lib/${entry.name}/os.py`)) found.push([Number(m[1]), Number(m[2])]);
    }
  } catch {
    // No lib directory here.
  }
  return found.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
}

/**
 * The modules compiled into the interpreter (`sys.builtin_module_names` minus `sys` and `builtins`):
 * the `PyInit_<name>` functions the binary, or its libpython, exports.
 *
 * @param objects the binary and the libraries it loads
 * @returns the module names
 */
export async function builtinModules(objects: readonly string[]): Promise<Set<string>> {
  const names = new Set<string>(["sys", "builtins"]);
  for (const object of objects) {
    for (const symbol of await readDynamicSymbols(object)) {
      if (symbol.startsWith("PyInit_")) names.add(symbol.slice("PyInit_".length));
    }
  }
  return names;
}

/** Where a module was found. */
export interface FoundModule {
  /** Dotted name. */
  name: string;
  /** A package (directory with `__init__`), a plain module, a C extension, or a namespace package. */
  kind: "package" | "module" | "extension" | "namespace";
  /** The host file loaded for it (`__init__.py`, `x.py`, `x.cpython-311-x86_64-linux-gnu.so`); `null` for a namespace package. */
  file: string | null;
  /** The directories submodules are found in (`__path__`); empty for a module. */
  path: string[];
  /** The entry of the search path it was found under. */
  root: string;
}

interface Listing {
  files: Set<string>;
  dirs: Set<string>;
}

/**
 * Finds modules as CPython's path finder does: each search path entry in order; in an entry, a directory
 * `<name>` with an `__init__` file is a package; otherwise `<name>` plus an extension suffix, `.py` or
 * `.pyc` is a module; directories without `__init__` in any entry make a namespace package when no entry
 * has the module itself. Submodules are looked for in their package's `__path__`.
 */
export class ModuleFinder {
  readonly #roots: readonly string[];
  readonly #suffixes: readonly string[];
  readonly #extensionSuffixes: readonly string[];
  readonly #listings = new Map<string, Listing | null>();
  readonly #found = new Map<string, FoundModule | null>();
  readonly #ignored: ReadonlySet<string>;

  /**
   * @param roots the search path (`sys.path` order), absolute host directories
   * @param extensionSuffixes file name endings of extension modules, preferred first
   * @param ignored files that are not there for the guest (extension modules whose libraries are missing)
   */
  constructor(
    roots: readonly string[],
    extensionSuffixes: readonly string[],
    ignored: ReadonlySet<string> = new Set(),
  ) {
    this.#roots = roots;
    this.#extensionSuffixes = extensionSuffixes;
    this.#suffixes = [...extensionSuffixes, ".py", ".pyc"];
    this.#ignored = ignored;
  }

  #list(dir: string): Listing | null {
    let listing = this.#listings.get(dir);
    if (listing !== undefined) return listing;
    listing = null;
    try {
      const files = new Set<string>(), dirs = new Set<string>();
      for (const entry of Deno.readDirSync(dir)) {
        let isDir = entry.isDirectory, isFileEntry = entry.isFile;
        if (entry.isSymlink) {
          try {
            const target = Deno.statSync(`${dir}/${entry.name}`);
            isDir = target.isDirectory, isFileEntry = target.isFile;
          } catch {
            // A dangling link is nothing.
          }
        }
        if (isDir) dirs.add(entry.name);
        else if (isFileEntry) files.add(entry.name);
      }
      listing = { files, dirs };
    } catch {
      // Not a directory: nothing is found there.
    }
    this.#listings.set(dir, listing);
    return listing;
  }

  /** Whether `name` (a file name) is one of the extension suffixes' modules. */
  isExtension(file: string): boolean {
    return this.#extensionSuffixes.some((suffix) => file.endsWith(suffix));
  }

  #findIn(entries: readonly string[], name: string, last: string, rootOf: (dir: string) => string): FoundModule | null {
    const portions: string[] = [];
    for (const dir of entries) {
      const listing = this.#list(dir);
      if (listing === null) continue;
      if (listing.dirs.has(last)) {
        const pkg = `${dir}/${last}`;
        const inner = this.#list(pkg);
        const init = this.#suffixes.find((suffix) => inner?.files.has(`__init__${suffix}`));
        if (init !== undefined) {
          return { name, kind: "package", file: `${pkg}/__init__${init}`, path: [pkg], root: rootOf(dir) };
        }
        portions.push(pkg);
      }
      const suffix = this.#suffixes.find((s) =>
        listing.files.has(`${last}${s}`) && !this.#ignored.has(`${dir}/${last}${s}`)
      );
      if (suffix !== undefined) {
        const kind = this.isExtension(suffix) ? "extension" : "module";
        return { name, kind, file: `${dir}/${last}${suffix}`, path: [], root: rootOf(dir) };
      }
    }
    if (portions.length === 0) return null;
    return { name, kind: "namespace", file: null, path: portions, root: rootOf(dirname(portions[0]!)) };
  }

  /**
   * Finds a module by its dotted name (its parent packages are found first).
   *
   * @param name e.g. `email.mime.text`
   * @returns where it is, `null` when it is not on the path (or its parent is not a package)
   */
  find(name: string): FoundModule | null {
    const known = this.#found.get(name);
    if (known !== undefined) return known;
    let found: FoundModule | null;
    const dot = name.lastIndexOf(".");
    if (dot < 0) {
      found = this.#findIn(this.#roots, name, name, (dir) => dir);
    } else {
      const parent = this.find(name.slice(0, dot));
      found = parent === null || parent.path.length === 0
        ? null
        : this.#findIn(parent.path, name, name.slice(dot + 1), () => parent.root);
    }
    this.#found.set(name, found);
    return found;
  }

  /**
   * The submodules of a package found on the path (for `encodings.*`-style hints).
   *
   * @param name the package
   * @returns dotted names, sorted
   */
  submodules(name: string): string[] {
    const pkg = this.find(name);
    if (pkg === null) return [];
    const names = new Set<string>();
    for (const dir of pkg.path) {
      const listing = this.#list(dir);
      for (const file of listing?.files ?? []) {
        const suffix = this.#suffixes.find((s) => file.endsWith(s));
        if (suffix === undefined) continue;
        const stem = file.slice(0, -suffix.length);
        if (stem !== "__init__" && /^[A-Za-z_][A-Za-z0-9_]*$/.test(stem)) names.add(`${name}.${stem}`);
      }
    }
    return [...names].sort();
  }

  /**
   * Top-level modules on the path whose names start with `prefix` (for `_sysconfigdata_*`).
   *
   * @param prefix the name's start
   * @returns module names, sorted
   */
  topLevel(prefix: string): string[] {
    const names = new Set<string>();
    for (const root of this.#roots) {
      for (const file of this.#list(root)?.files ?? []) {
        const suffix = this.#suffixes.find((s) => file.endsWith(s));
        if (suffix !== undefined && file.startsWith(prefix)) names.add(file.slice(0, -suffix.length));
      }
    }
    return [...names].sort();
  }
}

/**
 * Imports the import statements cannot show, by the module that makes them: C code calling
 * `PyImport_ImportModule()` (found in CPython's `Modules/` and `Python/` sources), and names the
 * standard library builds at run time from data. `pkg.*` stands for every submodule of `pkg`, `x*` for
 * every top-level module whose name starts with `x`.
 */
export const HIDDEN_IMPORTS: Readonly<Record<string, readonly string[]>> = {
  // Codecs are looked up by name when text is encoded or decoded (`open(encoding=...)`, `bytes.decode`).
  encodings: ["encodings.*"],
  // time.strptime() and datetime.strptime() import _strptime from C.
  time: ["_strptime"],
  _datetime: ["_strptime", "time"],
  _pickle: ["copyreg", "_compat_pickle"],
  _elementtree: ["xml.etree.ElementPath", "copy"],
  _decimal: ["collections", "numbers", "contextvars"],
  _json: ["json.decoder"],
  _zoneinfo: ["zoneinfo._common"],
  _asyncio: ["asyncio"],
  _ctypes: ["ctypes"],
  _curses: ["curses"],
  // sysconfig imports _sysconfigdata_<abi>_<platform>_<multiarch> by a computed name.
  sysconfig: ["_sysconfigdata_*"],
  // dbm and xml.sax try back ends named in lists.
  dbm: ["dbm.gnu", "dbm.ndbm", "dbm.dumb"],
  "xml.sax": ["xml.sax.expatreader"],
};

/**
 * Imports of the standard library that only serve the interactive interpreter, which an app in a
 * unikernel has not: not followed (name them with `--python-module` to have them).
 */
export const INTERACTIVE_IMPORTS: Readonly<Record<string, readonly string[]>> = {
  // help() imports pydoc (and with it http.server, email, tarfile, ...).
  _sitebuiltins: ["pydoc"],
  // The interactive prompt's line editing and completion.
  site: ["readline", "rlcompleter"],
};

/**
 * What Python imports before the app's first line: `site` and what it imports, the codecs, and the
 * import system's own modules (frozen into the interpreter, but their sources serve tracebacks).
 */
export const STARTUP_MODULES: readonly string[] = [
  "site",
  "encodings",
  "codecs",
  "io",
  "abc",
  "os",
  "zipimport",
  "importlib._bootstrap",
  "importlib._bootstrap_external",
];

/** A source file whose imports are followed, and the module it is. */
export interface ScanRoot {
  /** Host path of a `.py` file. */
  file: string;
  /** Its dotted module name (`pkg.sub`, `pkg` for `pkg/__init__.py`), `__main__` for a script. */
  module: string;
  /** Whether the file is a package's `__init__.py`. */
  isPackage: boolean;
  /** The source, when it is not read from `file` (which then only names it). */
  text?: string;
}

/** An import that found no module. */
export interface UnresolvedImport {
  /** The absolute module name. */
  module: string;
  /** The file importing it. */
  file: string;
  /** The import as the scanner saw it. */
  import: PythonImport;
}

/** The result of {@linkcode selectModules}. */
export interface ModuleSelection {
  /** Every module reached, by name (packages of submodules included). */
  modules: Map<string, FoundModule>;
  /** Imports that found nothing (conditional ones included), in the order they were met. */
  unresolved: UnresolvedImport[];
  /** Why each module is there: the module (or file) that first asked for it; absent for the roots. */
  via: Map<string, string>;
}

/**
 * The absolute name an import asks for: relative imports are taken from the importing module's package.
 *
 * @returns the name, `null` for a relative import that leaves the top-level package
 */
function absoluteName(found: PythonImport, pkg: string): string | null {
  if (found.level === 0) return found.module;
  const parts = pkg === "" ? [] : pkg.split(".");
  if (found.level - 1 >= parts.length) return null;
  const anchor = parts.slice(0, parts.length - (found.level - 1)).join(".");
  return found.module === "" ? anchor : `${anchor}.${found.module}`;
}

/**
 * Follows imports from some source files and module names, transitively, through every module found
 * that has Python source (extension modules contribute their {@linkcode HIDDEN_IMPORTS}). Imports that
 * never run when a module is imported are not followed (`if TYPE_CHECKING:`, `if __name__ ==
 * "__main__":` but in the app's script, {@linkcode INTERACTIVE_IMPORTS}), nor fallbacks in an `except
 * ImportError:` clause whose `try` body's imports are all available.
 *
 * @param finder the module finder over the search path
 * @param options the files to scan and the module names needed besides their imports
 * @returns the modules reached and the imports left unresolved
 */
export async function selectModules(
  finder: ModuleFinder,
  options: {
    files?: readonly ScanRoot[];
    modules?: readonly string[];
    /** Modules compiled into the interpreter (a `try` importing them does not fail). */
    builtins?: ReadonlySet<string>;
  },
): Promise<ModuleSelection> {
  const builtins = options.builtins ?? new Set<string>();
  const modules = new Map<string, FoundModule>();
  const unresolved: UnresolvedImport[] = [];
  const via = new Map<string, string>();
  const scanned = new Set<string>();
  const requested = new Set<string>();
  const work: { name: string; optional: boolean; from?: { file: string; import: PythonImport } }[] = [];
  const scanQueue: ScanRoot[] = [...options.files ?? []];

  const request = (name: string, optional: boolean, from?: { file: string; import: PythonImport }, by?: string) => {
    const key = `${optional ? "?" : ""}${name}`;
    if (requested.has(name) || requested.has(key)) return;
    requested.add(key);
    if (by !== undefined && !via.has(name)) via.set(name, by);
    work.push(from === undefined ? { name, optional } : { name, optional, from });
  };
  const expandHint = (hint: string): string[] => {
    if (hint.endsWith(".*")) return finder.submodules(hint.slice(0, -2));
    if (hint.endsWith("*")) return finder.topLevel(hint.slice(0, -1));
    return [hint];
  };

  for (const name of options.modules ?? []) {
    for (const expanded of expandHint(name)) request(expanded, false);
  }

  const scan = async (root: ScanRoot) => {
    if (scanned.has(root.file)) return;
    scanned.add(root.file);
    let text = root.text;
    try {
      text ??= new TextDecoder().decode(await Deno.readFile(root.file));
    } catch {
      return;
    }
    const pkg = root.isPackage ? root.module : root.module.slice(0, Math.max(0, root.module.lastIndexOf(".")));
    const imports: { found: PythonImport; base: string }[] = [];
    for (const found of scanImports(text)) {
      if (found.typeChecking || (found.mainOnly && root.module !== "__main__")) continue;
      const base = absoluteName(found, pkg);
      if (base === null || INTERACTIVE_IMPORTS[root.module]?.includes(base)) continue;
      imports.push({ found, base });
    }
    // `try: import fast / except ImportError: import slow`: slow is needed only if fast may fail.
    const available = (name: string) => builtins.has(name) || finder.find(name) !== null;
    const tryFails = new Map<number, boolean>();
    for (const { found, base } of imports) {
      if (found.tryBody === null || found.kind === "call") continue;
      if (!available(base)) tryFails.set(found.tryBody, true);
      else if (!tryFails.has(found.tryBody)) tryFails.set(found.tryBody, false);
    }
    for (const { found, base } of imports) {
      if (found.fallbackOf !== null && tryFails.get(found.fallbackOf) === false) continue;
      const from = { file: root.file, import: found };
      request(base, false, from, root.module);
      if (found.kind === "from") {
        for (const name of found.names) if (name !== "*") request(`${base}.${name}`, true, undefined, root.module);
      }
    }
  };

  while (work.length > 0 || scanQueue.length > 0) {
    if (scanQueue.length > 0) {
      await scan(scanQueue.shift()!);
      continue;
    }
    const { name, optional, from } = work.shift()!;
    for (const hint of HIDDEN_IMPORTS[name] ?? []) {
      for (const expanded of expandHint(hint)) request(expanded, true, undefined, name);
    }
    const found = finder.find(name);
    if (found === null) {
      if (!optional && from !== undefined) unresolved.push({ module: name, ...from });
      continue;
    }
    // A submodule's packages are imported first.
    for (let dot = name.indexOf("."); dot >= 0; dot = name.indexOf(".", dot + 1)) {
      const parent = finder.find(name.slice(0, dot));
      if (parent !== null && !modules.has(parent.name)) {
        modules.set(parent.name, parent);
        request(parent.name, false, undefined, name);
      }
    }
    modules.set(name, found);
    if (found.file !== null && found.file.endsWith(".py")) {
      scanQueue.push({ file: found.file, module: name, isPackage: found.kind === "package" });
    }
  }
  return { modules, unresolved, via };
}
