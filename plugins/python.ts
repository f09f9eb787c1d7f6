/**
 * `rt:python`: a Python app (a `.py` file, or a directory with `main.py` or `__main__.py`) with the host's
 * CPython interpreter, the part of its standard library the app needs, and optionally a virtual
 * environment's packages.
 *
 * The guest gets the interpreter at its host path (`/usr/bin/python3 -> python3.11`), the shared libraries
 * it and the extension modules load (core/libraries.ts, as for native programs), the standard library at
 * its host path (`/usr/lib/python3.11`), the app at `/app`, and a venv's `site-packages` at
 * `/venv/lib/python3.X/site-packages` with a generated `/venv/pyvenv.cfg`, so Python sets itself up as in
 * a venv. The command line is `--env=PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 /app/main.py` (or
 * `/venv/bin/python3 ...`): the root filesystem is read-only, and the host's `__pycache__/*.pyc` files come
 * along with their sources' modification times so that Python uses them instead of compiling.
 *
 * Options (`osv build` flags, `"options"` in osv.json, or the factory's):
 *
 * - `--python-stdlib full|imports` (default `imports`): `full` is the whole standard library but for
 *   tests (`test/`, `tests/`, `idle_test/`), `idlelib`, `tkinter`, `turtledemo`, `ensurepip`, the static
 *   library directory `config-3.X-*`, `site-packages`/`dist-packages`, test extension modules and bytecode
 *   of other versions and optimisation levels; `imports` is what the app's files (and the venv's) import,
 *   found by reading them (plugins/_python_imports.ts), transitively through the standard library, with
 *   what Python imports at start-up and imports C code makes (plugins/_python_stdlib.ts).
 * - `--python-module NAME` (repeatable): modules `imports` cannot see (built from data, e.g.
 *   `importlib.import_module(name)`), with their own imports.
 * - `--venv DIR`: a virtual environment whose `site-packages` (pure Python and extension modules with their
 *   shared libraries) goes into the image; its interpreter is the default one.
 * - `--python PATH`: the interpreter (default: the venv's, else `/usr/bin/python3`).
 *
 * @module
 */

import type { Plugin, PluginOption } from "../core/api.ts";
import { definePlugin } from "../core/plugin.ts";

/** How much of the standard library goes into the image. */
export type StdlibSelection = "full" | "imports";

/** Options of the python plugin (defaults for the build options of the same meaning). */
export interface Options {
  /** `full` or `imports` (default). */
  stdlib?: StdlibSelection;
  /** Interpreter path (default: the venv's, else `/usr/bin/python3`). */
  python?: string;
  /** Virtual environment directory. */
  venv?: string;
  /** Modules to include besides those found by the import scan. */
  modules?: readonly string[];
}

/** Where the app goes in the guest. */
export const GUEST_APP = "/app";
/** Where a venv goes in the guest. */
export const GUEST_VENV = "/venv";

/** The build options this plugin declares. */
export const PYTHON_OPTIONS: readonly PluginOption[] = [
  {
    name: "python-stdlib",
    value: "mode",
    description: "python: standard library in the image: all of it, or what the app imports",
    choices: ["full", "imports"],
  },
  {
    name: "python-module",
    value: "name",
    description: "python: a module the app imports by a computed name, with its imports (repeatable)",
    repeatable: true,
  },
  {
    name: "venv",
    value: "dir",
    description: "python: a virtual environment whose packages go into the image",
    path: true,
  },
  {
    name: "python",
    value: "path",
    description: "python: the interpreter (default: the venv's, else /usr/bin/python3)",
    path: true,
  },
];

/** `Deno.statSync`, or null when the path does not exist or cannot be read. */
export function statOrNull(path: string): Deno.FileInfo | null {
  try {
    return Deno.statSync(path);
  } catch {
    return null;
  }
}

/** Whether the app is Python: a `.py` file, a script with a python `#!` line, a directory with main.py. */
async function detect(app: string): Promise<boolean> {
  const stat = statOrNull(app);
  if (stat === null) return false;
  if (stat.isDirectory) {
    return statOrNull(`${app}/main.py`)?.isFile === true || statOrNull(`${app}/__main__.py`)?.isFile === true;
  }
  if (!stat.isFile) return false;
  if (app.endsWith(".py")) return true;
  try {
    using file = await Deno.open(app);
    const head = new Uint8Array(128);
    const n = await file.read(head) ?? 0;
    const first = new TextDecoder().decode(head.subarray(0, n)).split("\n", 1)[0] ?? "";
    return /^#!.*\bpython[0-9.]*\b/.test(first);
  } catch {
    return false;
  }
}

/**
 * The python runtime plugin.
 *
 * @param options defaults for the build options (`stdlib`, `python`, `venv`, `modules`)
 * @returns the `rt:python` plugin
 * @example
 * ```ts
 * import { python } from "./python.ts";
 * const plugin = python({ stdlib: "full" });
 * if (plugin.runtimes?.[0]?.name !== "python") throw new Error();
 * ```
 */
export function python(options: Options = {}): Plugin {
  return definePlugin({
    name: "rt:python",
    description: "Python apps (.py file or directory with main.py) with the host's CPython, stdlib and a venv",
    options: PYTHON_OPTIONS,
    runtimes: [{
      name: "python",
      detect,
      // The collector (and the standard library scanner it uses) is imported by builds only.
      collect: async (app, ctx) => (await import("./_python_collect.ts")).collect(app, ctx, options),
    }],
  });
}
