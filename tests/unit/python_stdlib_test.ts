import { assert, assertEquals, assertRejects, assertStringIncludes } from "./_assert.ts";
import {
  builtinModules,
  findPythonInstall,
  ModuleFinder,
  PythonInstallError,
  selectModules,
  STARTUP_MODULES,
} from "../../plugins/_python_stdlib.ts";
import { stdlibFiles } from "../../plugins/_python_select.ts";
import { hostPython, runPython } from "./_python.ts";

/** Writes files (path -> content) under a new temp directory; its path. */
async function tree(files: Record<string, string>): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "osv-python-" });
  for (const [path, text] of Object.entries(files)) {
    const full = `${root}/${path}`;
    await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(full, text);
  }
  return root;
}

/** Python code that lists the modules loaded so far with the file each came from. */
const DUMP_MODULES = `
import sys as _osv_sys
for _osv_name, _osv_module in sorted(_osv_sys.modules.items()):
    print("MODULE", _osv_name, getattr(_osv_module, "__file__", None) or "-")
`;

/** The standard library files the host's Python loaded running `script` (the oracle). */
async function loadedStdlibFiles(script: string): Promise<string[]> {
  const python = await hostPython();
  const dir = await Deno.makeTempDir({ prefix: "osv-python-oracle-" });
  await Deno.writeTextFile(`${dir}/main.py`, script + "\n" + DUMP_MODULES);
  const out = await runPython(["-I", `${dir}/main.py`], { cwd: dir });
  assertEquals(out.code, 0, out.stderr);
  return out.stdout.split("\n")
    .filter((line) => line.startsWith("MODULE "))
    .map((line) => line.split(" ")[2]!)
    .filter((file) => file.startsWith(python.stdlib + "/") && !file.includes("-packages/"));
}

Deno.test("findPythonInstall() finds the interpreter's version and standard library as Python reports them", async () => {
  const python = await hostPython();
  const install = await findPythonInstall(python.binary);
  const out = await runPython([
    "-c",
    "import sys, os, sysconfig; print(sys.prefix, os.path.realpath(sys.executable), sysconfig.get_path('stdlib'), " +
    "sys.implementation.cache_tag)",
  ]);
  const [prefix, binary, stdlib, tag] = out.stdout.trim().split(" ");
  assertEquals(install.prefix, prefix);
  assertEquals(install.binary, binary);
  assertEquals(install.stdlib, stdlib);
  assertEquals(install.cacheTag, tag);
  assertEquals(`${install.version[0]}.${install.version[1]}`, python.version);
  const suffixes = await runPython(["-c", "import importlib.machinery as m; print(' '.join(m.EXTENSION_SUFFIXES))"]);
  assertEquals(install.extensionSuffixes.join(" "), suffixes.stdout.trim());
});

Deno.test("findPythonInstall() explains a missing interpreter, a script and a binary without a standard library", async () => {
  const missing = await assertRejects(() => findPythonInstall("/nonexistent/python3"), PythonInstallError);
  assertStringIncludes(missing.message, `Python interpreter "/nonexistent/python3" does not exist`);
  const dir = await tree({ "bin/python3": '#!/bin/sh\nexec python3 "$@"\n' });
  const script = await assertRejects(() => findPythonInstall(`${dir}/bin/python3`), PythonInstallError);
  assertStringIncludes(script.message, "is not an ELF executable (not an ELF file)");
  // Named for a version no directory above it has a standard library of.
  await Deno.copyFile((await hostPython()).binary, `${dir}/bin/python3.99`);
  const bare = await assertRejects(() => findPythonInstall(`${dir}/bin/python3.99`), PythonInstallError);
  assertStringIncludes(bare.message, `Cannot find the standard library of Python interpreter "${dir}/bin/python3.99"`);
  assertStringIncludes(bare.message, `no lib/python3.99/os.py in ${dir}/bin, ${dir}, `);
});

Deno.test("builtinModules() reads sys.builtin_module_names from the binary's PyInit_ symbols", async () => {
  const python = await hostPython();
  const install = await findPythonInstall(python.binary);
  const out = await runPython(["-c", "import sys; print(' '.join(sorted(sys.builtin_module_names)))"]);
  const expected = out.stdout.trim().split(" ");
  const found = await builtinModules([install.binary]);
  // _imp, _warnings, marshal and _tokenize-like modules are initialised without an exported PyInit_ on some
  // builds: everything found must be built in, and everything the app can import by name must be found.
  for (const name of found) assert(expected.includes(name), `${name} is not built in`);
  for (const name of ["_datetime", "_sha512", "zlib", "_socket", "posix", "math"]) {
    if (expected.includes(name)) assert(found.has(name), `${name} was not found`);
  }
});

Deno.test("ModuleFinder finds packages, modules, extensions and namespace packages in path order", async () => {
  const root = await tree({
    "a/pkg/__init__.py": "",
    "a/pkg/sub.py": "",
    "a/mod.py": "",
    "a/ext.cpython-311-x86_64-linux-gnu.so": "",
    "a/ext.py": "", // the extension wins, as in CPython
    "a/ns/one.py": "",
    "b/ns/two.py": "",
    "b/mod.py": "", // shadowed by a/mod.py
    "b/pkg2/__init__.py": "",
  });
  const finder = new ModuleFinder([`${root}/a`, `${root}/b`], [".cpython-311-x86_64-linux-gnu.so", ".abi3.so", ".so"]);
  assertEquals(finder.find("pkg")?.kind, "package");
  assertEquals(finder.find("pkg.sub")?.file, `${root}/a/pkg/sub.py`);
  assertEquals(finder.find("mod")?.file, `${root}/a/mod.py`);
  assertEquals(finder.find("ext")?.kind, "extension");
  assertEquals(finder.find("ns")?.kind, "namespace");
  assertEquals(finder.find("ns")?.path, [`${root}/a/ns`, `${root}/b/ns`]);
  assertEquals(finder.find("ns.two")?.file, `${root}/b/ns/two.py`);
  assertEquals(finder.find("pkg2")?.root, `${root}/b`);
  assertEquals(finder.find("mod.sub"), null);
  assertEquals(finder.find("missing"), null);
  assertEquals(finder.submodules("pkg"), ["pkg.sub"]);
  // An extension module whose libraries are missing is not there: its .py twin is found instead.
  const without = new ModuleFinder(
    [`${root}/a`],
    [".cpython-311-x86_64-linux-gnu.so"],
    new Set([
      `${root}/a/ext.cpython-311-x86_64-linux-gnu.so`,
    ]),
  );
  assertEquals(without.find("ext")?.file, `${root}/a/ext.py`);
});

Deno.test("selectModules() resolves relative imports, from-import submodules and fallbacks of available imports", async () => {
  const root = await tree({
    "app/main.py": "import pkg.a\nfrom pkg import b\n",
    "app/pkg/__init__.py": "from . import c\n",
    "app/pkg/a.py": "from .b import thing\nfrom .. import nothing_above\n",
    "app/pkg/b.py": "try:\n    import fast\nexcept ImportError:\n    import slow\n" +
      "try:\n    import absent\nexcept ImportError:\n    import needed_fallback\n",
    "app/pkg/c.py": "if __name__ == '__main__':\n    import only_as_program\n",
    "app/fast.py": "",
    "app/slow.py": "",
    "app/needed_fallback.py": "",
    "app/only_as_program.py": "",
  });
  const finder = new ModuleFinder([`${root}/app`], [".so"]);
  const selection = await selectModules(finder, {
    files: [{ file: `${root}/app/main.py`, module: "__main__", isPackage: false }],
  });
  assertEquals([...selection.modules.keys()].sort(), ["fast", "needed_fallback", "pkg", "pkg.a", "pkg.b", "pkg.c"]);
  assertEquals(selection.unresolved.map((u) => u.module), ["absent"]);
  assertEquals(selection.unresolved[0]?.import.conditional, true);
  assertEquals(selection.via.get("pkg.c"), "pkg");
});

Deno.test("the start-up closure holds every standard library file python3 -X importtime shows", async () => {
  const python = await hostPython();
  const install = await findPythonInstall(python.binary);
  const out = await runPython(["-I", "-X", "importtime", "-c", "pass"]);
  const imported = out.stderr.split("\n")
    .map((line) => /\|\s+([\w.]+)\s*$/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined && name !== "package");
  assert(imported.includes("site") && imported.includes("encodings"), out.stderr);
  const finder = new ModuleFinder([install.stdlib, install.dynload], install.extensionSuffixes);
  const selection = await selectModules(finder, {
    modules: STARTUP_MODULES,
    builtins: await builtinModules([install.binary]),
  });
  for (const name of imported) {
    const found = finder.find(name);
    // Built-in and frozen-only modules (_io, marshal, _frozen_importlib_external) have no file to take.
    if (found === null || !found.file?.startsWith(install.stdlib)) continue;
    assert(selection.modules.has(name), `${name} is imported at start-up but not selected`);
  }
  const files = new Set([...selection.modules.values()].map((m) => m.file));
  for (const file of await loadedStdlibFiles("")) {
    assert(files.has(file), `${file} is loaded at start-up but not selected`);
  }
});

const SCRIPT = `
import json, hashlib, re, datetime, sqlite3, zlib
print(json.dumps({"b": [1, 2.5, None], "a": "\\u00e9"}, sort_keys=True))
print(hashlib.sha256(b"osv").hexdigest(), hashlib.md5(b"osv").hexdigest())
print(re.sub(r"(\\w+)@(\\w+)", r"\\2 at \\1", "user@example"))
print(datetime.datetime.strptime("2024-02-29 12:34", "%Y-%m-%d %H:%M").isoformat())
db = sqlite3.connect(":memory:")
db.execute("create table t (k text, v integer)")
db.executemany("insert into t values (?, ?)", [("a", 1), ("b", 2)])
print(db.execute("select sum(v), group_concat(k) from t").fetchone())
print(len(zlib.compress(b"osv" * 100)), zlib.crc32(b"osv"))
`;

Deno.test("the imports selection of an app holds every standard library file the host's python3 loads running it", async () => {
  const python = await hostPython();
  const install = await findPythonInstall(python.binary);
  const root = await tree({ "main.py": SCRIPT });
  const selected = await stdlibFiles(install, {
    selection: "imports",
    app: { root, single: null, script: "/app/main.py" },
    appFiles: [`${root}/main.py`],
    sitePackages: null,
    venvFiles: [],
  });
  const files = new Set(selected.files);
  const loaded = await loadedStdlibFiles(SCRIPT);
  assert(loaded.some((f) => f.endsWith("/_sqlite3.cpython-311-x86_64-linux-gnu.so") || f.includes("/_sqlite3.")));
  for (const file of loaded) assert(files.has(file), `${file} is loaded running the app but not selected`);
  // Cached bytecode comes with each source the host has it for.
  for (const file of loaded.filter((f) => f.endsWith(".py"))) {
    const dir = file.slice(0, file.lastIndexOf("/"));
    const pyc = `${dir}/__pycache__/${file.slice(dir.length + 1, -3)}.${install.cacheTag}.pyc`;
    if (await Deno.stat(pyc).then(() => true, () => false)) assert(files.has(pyc), `${pyc} is missing`);
  }
  assert(selected.extensions.some((f) => f.includes("/_sqlite3.")), "no _sqlite3 extension");
  assert(selected.extensions.some((f) => f.includes("/_hashlib.")), "no _hashlib extension");
});

Deno.test("the full selection leaves out tests, GUI and packaging tools but keeps every other module", async () => {
  const python = await hostPython();
  const install = await findPythonInstall(python.binary);
  const full = await stdlibFiles(install, {
    selection: "full",
    app: { root: "/nonexistent", single: null, script: "/app/main.py" },
    appFiles: [],
    sitePackages: null,
    venvFiles: [],
  });
  const files = new Set(full.files);
  for (
    const module of ["os.py", "json/__init__.py", "email/mime/text.py", "asyncio/__init__.py", "sqlite3/__init__.py"]
  ) {
    assert(files.has(`${install.stdlib}/${module}`), `${module} is missing`);
  }
  const relative = full.files.map((f) => f.slice(install.stdlib.length + 1));
  assertEquals(relative.filter((f) => /^(?:test|idlelib|tkinter|ensurepip|config-)|\/tests?\//.test(f)), []);
  assertEquals(relative.filter((f) => f.endsWith(".pyc") && !f.endsWith(`.${install.cacheTag}.pyc`)), []);
  assertEquals(full.extensions.filter((f) => /\/_test|xxlimited/.test(f)), []);
  assert(full.extensions.some((f) => f.includes("/_ssl.")), "no _ssl extension");
});
