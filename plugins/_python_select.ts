/**
 * Which files of a host Python's standard library go into an image: all of it but tests, GUI and
 * packaging tools (`full`), or the modules an app imports (`imports`), with their cached bytecode.
 *
 * @module
 */

import { basename, dirname } from "../core/paths.ts";
import { resolveLibraries } from "../core/api.ts";
import {
  builtinModules,
  type FoundModule,
  ModuleFinder,
  type PythonInstall,
  type ScanRoot,
  selectModules,
  STARTUP_MODULES,
} from "./_python_stdlib.ts";

/** Top-level directories of the standard library `full` leaves out. */
export const FULL_SKIPPED_TOP = new Set([
  "idlelib",
  "tkinter",
  "turtledemo",
  "ensurepip",
  "site-packages",
  "dist-packages",
  "__phello__",
]);
/** Directories `full` leaves out wherever they are. */
export const FULL_SKIPPED_ANYWHERE = new Set(["test", "tests", "idle_test"]);
/** Extension modules that only CPython's own tests use. */
const TEST_EXTENSION = /^(?:_test\w*|_xxtestfuzz|_ctypes_test|xxlimited(?:_35)?|xxsubtype|_xxsubinterpreters)\./;

/** What the app brings, for `imports`. */
export interface AppSources {
  /** Host directory searched first (`sys.path[0]`); for a single-file app, its directory. */
  root: string;
  /** The single file of a single-file app, `null` for a directory. */
  single: string | null;
  /** The guest path python is given (`/app/main.py` or `/app`). */
  script: string;
}

/** Options of {@linkcode stdlibFiles}. */
export interface StdlibOptions {
  selection: "full" | "imports";
  /** Modules to include besides the scanned ones (`imports`). */
  modules?: readonly string[];
  /** The app. */
  app: AppSources;
  /** The app's host files as copied (the `.py` ones are scanned). */
  appFiles: readonly string[];
  /** The venv's site-packages on the host, if any. */
  sitePackages: string | null;
  /** Its files as copied. */
  venvFiles: readonly string[];
  /** Warnings (imports of the app that nothing provides). */
  warn?: (message: string) => void;
  /**
   * Extension modules left out because their shared libraries are missing: as for Python on the host,
   * importing them fails, so the `except ImportError:` fallbacks of their importers are taken instead.
   */
  unloadable?: ReadonlySet<string>;
}

/** The standard library files for an image. */
export interface StdlibFiles {
  /** Host paths of every file to add (sources, bytecode, data), extension modules included. */
  files: string[];
  /** The extension modules among them (their shared libraries are needed too). */
  extensions: string[];
  /** The modules selected (`imports`), sorted; empty for `full`. */
  modules: string[];
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

function listDir(dir: string): Deno.DirEntry[] {
  try {
    return [...Deno.readDirSync(dir)].sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  } catch {
    return [];
  }
}

function isDir(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/**
 * The standard library files an image needs.
 *
 * @param install the interpreter
 * @param options the selection and what the app brings
 * @returns files and extension modules (host paths)
 */
export async function stdlibFiles(install: PythonInstall, options: StdlibOptions): Promise<StdlibFiles> {
  if (options.selection === "imports") return await importedStdlib(install, options);
  const full = fullStdlib(install);
  const unloadable = options.unloadable ?? new Set();
  return {
    files: full.files.filter((f) => !unloadable.has(f)),
    extensions: full.extensions.filter((f) => !unloadable.has(f)),
    modules: [],
  };
}

function fullStdlib(install: PythonInstall): StdlibFiles {
  const files: string[] = [];
  const extensions: string[] = [];
  const isExtension = (name: string) => install.extensionSuffixes.some((suffix) => name.endsWith(suffix));
  const visit = (dir: string, top: boolean) => {
    for (const entry of listDir(dir)) {
      const path = `${dir}/${entry.name}`;
      if (isDir(path)) {
        if (entry.isSymlink) continue;
        if (top && (FULL_SKIPPED_TOP.has(entry.name) || /^config-\d/.test(entry.name))) continue;
        if (FULL_SKIPPED_ANYWHERE.has(entry.name)) continue;
        visit(path, false);
      } else if (isFile(path)) {
        if (basename(dir) === "__pycache__" && !isOwnBytecode(entry.name, install.cacheTag)) continue;
        if (isExtension(entry.name)) {
          if (TEST_EXTENSION.test(entry.name)) continue;
          extensions.push(path);
        }
        files.push(path);
      }
    }
  };
  visit(install.stdlib, true);
  return { files, extensions, modules: [] };
}

/** Bytecode of this interpreter, not an optimised (`.opt-1`) one. */
function isOwnBytecode(name: string, cacheTag: string): boolean {
  return name.endsWith(`.${cacheTag}.pyc`);
}

/** `pkg/sub/mod.py` under `root` -> `pkg.sub.mod` (`__init__.py` names its package). */
function moduleName(root: string, file: string): ScanRoot | null {
  if (!file.startsWith(root + "/") || !file.endsWith(".py")) return null;
  const parts = file.slice(root.length + 1, -3).split("/");
  const isPackage = parts[parts.length - 1] === "__init__";
  if (isPackage) parts.pop();
  if (parts.length === 0 || !parts.every((p) => /^[\p{L}_][\p{L}\p{N}_]*$/u.test(p))) return null;
  return { file, module: parts.join("."), isPackage };
}

async function importedStdlib(install: PythonInstall, options: StdlibOptions): Promise<StdlibFiles> {
  const { app } = options;
  const roots = [
    ...(app.single === null ? [app.root] : []),
    ...(options.sitePackages === null ? [] : [options.sitePackages]),
    install.stdlib,
    install.dynload,
  ];
  const finder = new ModuleFinder(roots, install.extensionSuffixes, options.unloadable);
  const scan: ScanRoot[] = [];
  const mainFile = app.single ?? (app.script.endsWith(".py") ? `${app.root}/main.py` : `${app.root}/__main__.py`);
  for (const file of options.appFiles) {
    if (file === mainFile) scan.push({ file, module: "__main__", isPackage: false });
    else {
      const root = moduleName(app.root, file);
      if (root !== null) scan.push(root);
    }
  }
  const pthLines: string[] = [];
  if (options.sitePackages !== null) {
    for (const file of options.venvFiles) {
      const root = moduleName(options.sitePackages, file);
      if (root !== null) scan.push(root);
      // .pth files run their lines that start with "import" when site.py reads them.
      if (file.endsWith(".pth") && dirname(file) === options.sitePackages) {
        const text = await Deno.readTextFile(file).catch(() => "");
        pthLines.push(...text.split("\n").filter((line) => /^import[ \t]/.test(line)));
      }
    }
  }
  if (pthLines.length > 0) {
    const text = pthLines.join("\n") + "\n";
    scan.push({ file: `${options.sitePackages}/*.pth`, module: "__pth__", isPackage: false, text });
  }
  const modules = [...STARTUP_MODULES, ...options.modules ?? []];
  const builtins = await interpreterBuiltins(install);
  const selection = await selectModules(finder, { files: scan, modules, builtins });

  const inStdlib = (m: FoundModule) => m.root === install.stdlib || m.root === install.dynload;
  const files = new Set<string>();
  const extensions: string[] = [];
  const names: string[] = [];
  for (const module of selection.modules.values()) {
    if (!inStdlib(module)) continue;
    names.push(module.name);
    if (module.file === null) continue;
    files.add(module.file);
    if (module.kind === "extension") extensions.push(module.file);
    if (module.file.endsWith(".py")) {
      const dir = dirname(module.file);
      const cached = `${dir}/__pycache__/${basename(module.file, ".py")}.${install.cacheTag}.pyc`;
      if (isFile(cached)) files.add(cached);
    }
    if (module.kind === "package") { for (const data of packageData(module.path[0]!)) files.add(data); }
  }
  warnUnresolved(builtins, options, selection.unresolved);
  return { files: [...files].sort(), extensions: extensions.sort(), modules: names.sort() };
}

/**
 * A package's files that are not modules: data files beside its modules and whole directories that are
 * not packages (lib2to3's grammars, venv's activation scripts). Subpackages come in only when imported.
 */
function packageData(dir: string): string[] {
  const data: string[] = [];
  const visit = (at: string, top: boolean) => {
    for (const entry of listDir(at)) {
      const path = `${at}/${entry.name}`;
      if (isDir(path)) {
        if (entry.isSymlink || entry.name === "__pycache__" || FULL_SKIPPED_ANYWHERE.has(entry.name)) continue;
        if (isFile(`${path}/__init__.py`)) continue;
        visit(path, false);
      } else if (isFile(path) && !(top && /\.(?:py|pyc|so)$/.test(entry.name))) {
        data.push(path);
      }
    }
  };
  visit(dir, true);
  return data;
}

/** The modules compiled into the interpreter: its binary's and its libpython's (shared builds). */
async function interpreterBuiltins(install: PythonInstall): Promise<Set<string>> {
  const objects = [install.binary];
  try {
    const closure = await resolveLibraries(install.binary);
    objects.push(...closure.libraries.filter((l) => l.names.some((n) => n.startsWith("libpython"))).map((l) => l.path));
  } catch {
    // Without its libraries the binary's own symbols still tell.
  }
  return await builtinModules(objects);
}

function warnUnresolved(
  builtins: ReadonlySet<string>,
  options: StdlibOptions,
  unresolved: readonly { module: string; file: string; import: { conditional: boolean; line: number } }[],
): void {
  const warn = options.warn;
  const appFiles = new Set(options.appFiles);
  const missing = unresolved.filter((u) => appFiles.has(u.file) && !u.import.conditional);
  if (warn === undefined || missing.length === 0) return;
  const seen = new Set<string>();
  for (const { module, file, import: found } of missing) {
    const top = module.split(".")[0]!;
    if (builtins.has(top) || builtins.has(module) || seen.has(module)) continue;
    seen.add(module);
    const where = `${file.slice(options.app.root.length + 1)}:${found.line}`;
    const sibling = options.app.single !== null &&
      (isFile(`${options.app.root}/${top}.py`) || isDir(`${options.app.root}/${top}`));
    warn(
      `${where} imports "${module}", which is neither in the app, the venv nor the standard library` +
        (sibling ? ` (it is next to the app on the host: build the app's directory to include it)` : ""),
    );
  }
}
