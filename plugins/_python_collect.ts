/**
 * How `rt:python` (plugins/python.ts) collects an app: the interpreter, the standard library it needs,
 * the app, a venv and the shared libraries of all of them. Imported only when a build collects an app.
 *
 * @module
 */

import {
  addEntry,
  addHostFileKeepingLinks,
  addLibraryClosure,
  type CollectedApp,
  LibraryError,
  type Manifest,
  type ProviderContext,
  resolveLibraries,
  type RuntimeContext,
} from "../core/api.ts";
import { basename, dirname, extname, resolve } from "../core/paths.ts";
import { GUEST_APP, GUEST_VENV, type Options, statOrNull, type StdlibSelection } from "./python.ts";

const defaults = { stdlib: "imports", python: "/usr/bin/python3" } as const satisfies Options;

/** Directories of an app that are never copied. */
const APP_SKIPPED_DIRS = new Set([".git", ".hg", ".svn"]);

function fail(app: string, why: string, cause?: unknown): never {
  throw new Error(`Cannot build "${app}": ${why}`, cause === undefined ? undefined : { cause });
}

/** Quotes a word for the kernel's command line (split like a POSIX shell). */
function quoteWord(word: string): string {
  return /^[A-Za-z0-9_\/.,:=@%+-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The app as given: its files' host root, the script the guest runs, its name. */
interface AppLayout {
  /** Host directory whose files go to /app (only `single` for a single file). */
  root: string;
  /** A single file app: its host path. */
  single: string | null;
  /** Guest path given to python (`/app/main.py`, or `/app` for a `__main__.py`). */
  script: string;
  /** Image name. */
  name: string;
}

function appLayout(app: string): AppLayout {
  const path = resolve(app);
  const stat = statOrNull(path);
  if (stat === null) return fail(app, "no such file or directory");
  if (stat.isDirectory) {
    const name = basename(path) || "app";
    if (statOrNull(`${path}/main.py`)?.isFile) {
      return { root: path, single: null, script: `${GUEST_APP}/main.py`, name };
    }
    if (statOrNull(`${path}/__main__.py`)?.isFile) return { root: path, single: null, script: GUEST_APP, name };
    return fail(app, "a Python app directory needs a main.py or __main__.py");
  }
  if (!stat.isFile) return fail(app, "not a regular file or directory");
  const file = basename(path);
  const name = basename(file, extname(file)) || file;
  return { root: dirname(path), single: path, script: `${GUEST_APP}/${file}`, name };
}

/** Resolved settings: factory options overridden by the build's. */
interface Settings {
  stdlib: StdlibSelection;
  python: string | undefined;
  venv: string | undefined;
  modules: readonly string[];
}

function settings(options: Options, ctx: RuntimeContext): Settings {
  const given = ctx.config.options;
  const text = (name: string): string | undefined => typeof given[name] === "string" ? given[name] : undefined;
  const stdlib = text("python-stdlib") ?? options.stdlib ?? defaults.stdlib;
  if (stdlib !== "full" && stdlib !== "imports") {
    throw new TypeError(`Invalid python stdlib selection "${stdlib}" (expected full or imports)`);
  }
  const listed = given["python-module"];
  return {
    stdlib,
    python: text("python") ?? options.python,
    venv: text("venv") ?? options.venv,
    modules: [...options.modules ?? [], ...Array.isArray(listed) ? listed : []],
  };
}

/** A venv on the host. */
interface Venv {
  dir: string;
  sitePackages: string;
  /** Its interpreter (`bin/python3`), used when no other is given. */
  python: string;
}

function readVenv(app: string, dir: string): Venv {
  if (!statOrNull(`${dir}/pyvenv.cfg`)?.isFile) {
    return fail(app, `"${dir}" is not a virtual environment (it has no pyvenv.cfg)`);
  }
  const lib = `${dir}/lib`;
  const versions: string[] = [];
  try {
    for (const entry of Deno.readDirSync(lib)) {
      if (/^python\d+\.\d+$/.test(entry.name) && statOrNull(`${lib}/${entry.name}/site-packages`)?.isDirectory) {
        versions.push(entry.name);
      }
    }
  } catch {
    // Reported below.
  }
  if (versions.length !== 1) {
    return fail(
      app,
      `virtual environment "${dir}" has ${versions.length === 0 ? "no" : "more than one"} lib/python3.X/site-packages`,
    );
  }
  return { dir, sitePackages: `${lib}/${versions[0]}/site-packages`, python: `${dir}/bin/python3` };
}

/** A host file at a guest path, with its mode and modification time (Python compares `.pyc` files with it). */
function addFile(manifest: Manifest, host: string, guest: string): void {
  const info = Deno.statSync(host);
  addEntry(manifest, guest, {
    kind: "file",
    hostPath: host,
    mode: (info.mode ?? 0o644) & 0o7777,
    ...(info.mtime === null ? {} : { mtime: Math.floor(info.mtime.getTime() / 1000) }),
  });
}

/**
 * Adds a host tree under a guest directory: files with their modification times, relative links that stay
 * inside the tree as links, what other links lead to as copies (a link to a directory outside is left out
 * with a warning).
 *
 * @returns the host files added (link targets by the link's path), sorted
 */
function addTree(
  manifest: Manifest,
  tree: { host: string; guest: string; skip: (path: string, name: string) => boolean },
  ctx: ProviderContext,
): string[] {
  const files: string[] = [];
  const visit = (host: string, guest: string) => {
    addEntry(manifest, guest, { kind: "dir", mode: (Deno.statSync(host).mode ?? 0o755) & 0o7777 });
    const names = [...Deno.readDirSync(host)].map((e) => e.name).sort();
    for (const name of names) {
      const path = `${host}/${name}`, at = `${guest}/${name}`;
      if (tree.skip(path, name)) continue;
      const link = Deno.lstatSync(path);
      if (link.isSymlink) {
        const target = Deno.readLinkSync(path);
        if (!target.startsWith("/") && resolve(host, target).startsWith(tree.host + "/")) {
          addEntry(manifest, at, { kind: "symlink", target });
          if (statOrNull(path)?.isFile) files.push(path);
          continue;
        }
      }
      const info = statOrNull(path);
      if (info?.isDirectory) {
        if (link.isSymlink) ctx.warn(`leaving out ${path}: a link to a directory outside ${tree.host}`);
        else visit(path, at);
      } else if (info?.isFile) {
        addFile(manifest, path, at);
        files.push(path);
      }
    }
  };
  visit(tree.host, tree.guest);
  return files.sort();
}

/** Bytecode files: only those of this interpreter, not optimised ones. */
function isOwnBytecode(name: string, cacheTag: string): boolean {
  return name.endsWith(`.${cacheTag}.pyc`);
}

/** Collects a Python app for the image (the `collect` of `rt:python`). */
export async function collect(app: string, ctx: RuntimeContext, options: Options): Promise<CollectedApp> {
  // Loaded on first use: `osv run` and `osv plugins` never need the scanner.
  const { findPythonInstall, PythonInstallError } = await import("./_python_stdlib.ts");
  const { stdlibFiles } = await import("./_python_select.ts");
  const set = settings(options, ctx);
  const layout = appLayout(app);
  const venv = set.venv === undefined ? null : readVenv(app, set.venv);
  let install;
  try {
    install = await findPythonInstall(set.python ?? venv?.python ?? defaults.python);
  } catch (err) {
    if (err instanceof PythonInstallError) fail(app, err.message, err);
    throw err;
  }
  const [major, minor] = install.version;
  if (venv !== null && !venv.sitePackages.endsWith(`/python${major}.${minor}/site-packages`)) {
    fail(app, `virtual environment "${venv.dir}" is not for Python ${major}.${minor} (${install.binary})`);
  }

  const manifest: Manifest = new Map();
  addHostFileKeepingLinks(manifest, install.command);

  // The app: one file, or its directory without caches, version control and virtual environments.
  let appFiles: string[];
  if (layout.single !== null) {
    addFile(manifest, layout.single, layout.script);
    appFiles = [layout.single];
  } else {
    const skip = (path: string, name: string) =>
      APP_SKIPPED_DIRS.has(name) || statOrNull(`${path}/pyvenv.cfg`)?.isFile === true ||
      (name.endsWith(".pyc") && !isOwnBytecode(name, install.cacheTag));
    appFiles = addTree(manifest, { host: layout.root, guest: GUEST_APP, skip }, ctx);
  }

  // The venv's packages, with a pyvenv.cfg naming the interpreter's directory as its home.
  let venvFiles: string[] = [];
  if (venv !== null) {
    const sitePackagesGuest = `${GUEST_VENV}/lib/python${major}.${minor}/site-packages`;
    const skip = (_path: string, name: string) => name.endsWith(".pyc") && !isOwnBytecode(name, install.cacheTag);
    venvFiles = addTree(manifest, { host: venv.sitePackages, guest: sitePackagesGuest, skip }, ctx);
    const cfg = `home = ${
      dirname(install.binary)
    }\ninclude-system-site-packages = false\nversion = ${major}.${minor}\n`;
    addEntry(manifest, `${GUEST_VENV}/pyvenv.cfg`, { kind: "file", bytes: new TextEncoder().encode(cfg), mode: 0o644 });
    addEntry(manifest, `${GUEST_VENV}/bin/python3`, { kind: "symlink", target: install.binary });
    addEntry(manifest, `${GUEST_VENV}/bin/python`, { kind: "symlink", target: "python3" });
  }

  // The standard library, and the extension modules whose libraries the host has.
  const warnings: string[] = [];
  const stdlibOptions = {
    selection: set.stdlib,
    modules: set.modules,
    app: layout,
    appFiles,
    sitePackages: venv?.sitePackages ?? null,
    venvFiles,
    warn: (message: string) => void warnings.push(message),
  };
  let stdlib = await stdlibFiles(install, stdlibOptions);
  const ownExtensions = [...venvFiles, ...appFiles].filter((f) => f.endsWith(".so"));
  const usable = await loadableExtensions(install.binary, [...stdlib.extensions, ...ownExtensions], ctx);
  const unloadable = new Set(stdlib.extensions.filter((f) => !usable.includes(f)));
  if (unloadable.size > 0) {
    warnings.length = 0;
    stdlib = await stdlibFiles(install, { ...stdlibOptions, unloadable });
  }
  for (const warning of warnings) ctx.warn(warning);
  for (const file of stdlib.files) addHostFileKeepingLinks(manifest, file, { keepMtime: true });

  // Shared libraries: the interpreter's, the extension modules', --lib.
  const inVenv = (path: string) => venv !== null && path.startsWith(venv.sitePackages + "/");
  const inApp = (path: string) => path.startsWith(layout.root + "/");
  try {
    const selected = new Set([...stdlib.extensions, ...ownExtensions]);
    const extra = usable.filter((f) => selected.has(f));
    const closure = await resolveLibraries(install.binary, {
      extra: [...extra, ...ctx.config.libraries],
      glibcUnwinder: true,
    });
    addLibraryClosure(manifest, closure, { skip: (path) => inVenv(path) || inApp(path) });
  } catch (err) {
    fail(app, err instanceof Error ? err.message : String(err), err);
  }

  const python = venv === null ? install.command : `${GUEST_VENV}/bin/python3`;
  const cmdline = ["--env=PYTHONDONTWRITEBYTECODE=1", python, layout.script].map(quoteWord).join(" ");
  return { manifest, cmdline, name: layout.name };
}

/**
 * The extension modules whose shared libraries can all be found: one that needs a library the host lacks
 * cannot be imported on the host either, so it is left out with a warning rather than failing the build.
 */
async function loadableExtensions(binary: string, extensions: string[], ctx: ProviderContext): Promise<string[]> {
  try {
    await resolveLibraries(binary, { extra: extensions });
    return extensions;
  } catch (err) {
    if (!(err instanceof LibraryError)) throw err;
  }
  const usable: string[] = [];
  for (const extension of extensions) {
    try {
      await resolveLibraries(binary, { extra: [extension] });
      usable.push(extension);
    } catch (err) {
      if (!(err instanceof LibraryError)) throw err;
      ctx.warn(`leaving out ${extension}: ${err.message}`);
    }
  }
  return usable;
}
