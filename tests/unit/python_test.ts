import { assert, assertEquals, assertRejects, assertStringIncludes } from "./_assert.ts";
import { collectManifest } from "../../core/pipeline.ts";
import type { Manifest } from "../../core/manifest.ts";
import { python } from "../../plugins/python.ts";
import { hostPython, runPython } from "./_python.ts";
import { dynamicHello } from "./_helpers.ts";

/** Writes files (path -> content) under a new temp directory; its path. */
async function tree(files: Record<string, string>): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "osv-python-app-" });
  for (const [path, text] of Object.entries(files)) {
    const full = `${root}/${path}`;
    await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(full, text);
  }
  return root;
}

/** What `osv build --runtime python APP --dry-run` would put in the image, with the warnings. */
async function collect(app: string, options: Record<string, unknown> = {}) {
  const warnings: string[] = [];
  const { manifest, cmdline } = await collectManifest({
    app,
    runtime: "python",
    options,
    warn: (line) => void warnings.push(line),
  });
  return { manifest, cmdline, warnings };
}

function has(manifest: Manifest, path: string): boolean {
  return manifest.has(path);
}

Deno.test("a .py file goes to /app and runs with /usr/bin/python3, its standard library modules and their bytecode", async () => {
  const py = await hostPython();
  const dir = await tree({ "hello.py": "import json\nprint(json.dumps(2 + 2))\n", "other.py": "" });
  const { manifest, cmdline } = await collect(`${dir}/hello.py`);
  assertEquals(cmdline, "--env=PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 /app/hello.py");
  assertEquals(manifest.get("/app/hello.py")?.kind, "file");
  assert(!has(manifest, "/app/other.py"), "a single-file app brings only its file");
  assertEquals(manifest.get("/usr/bin/python3"), { kind: "symlink", target: `python${py.version}` });
  assertEquals(manifest.get(`/usr/bin/python${py.version}`)?.kind, "file");
  assert(has(manifest, "/etc/ld.so.cache"), "no ld.so.cache");
  for (const module of ["os.py", "site.py", "json/__init__.py", "json/decoder.py", "encodings/utf_8.py"]) {
    const entry = manifest.get(`${py.stdlib}/${module}`);
    assert(entry?.kind === "file", `${module} is missing`);
    // Python trusts __pycache__/*.pyc only when the source's size and modification time match.
    const mtime = Math.floor((await Deno.stat(`${py.stdlib}/${module}`)).mtime!.getTime() / 1000);
    assertEquals(entry.mtime, mtime, module);
  }
  assert(has(manifest, `${py.stdlib}/json/__pycache__/__init__.cpython-${py.version.replace(".", "")}.pyc`));
  assert(!has(manifest, `${py.stdlib}/sqlite3/__init__.py`), "sqlite3 is not imported");
  assert(![...manifest.keys()].some((p) => p.includes("/test/")), "no tests");
});

Deno.test("a directory with main.py: its files but version control, venvs and bytecode of other Pythons; __main__.py runs the directory", async () => {
  const dir = await tree({
    "main.py": "from pkg import helper\n",
    "pkg/__init__.py": "",
    "pkg/helper.py": "import csv\n",
    "data/table.txt": "x\n",
    "pkg/__pycache__/helper.cpython-311.pyc": "",
    "pkg/__pycache__/helper.cpython-310.pyc": "",
    ".git/HEAD": "ref\n",
    "env/pyvenv.cfg": "home = /usr/bin\n",
  });
  const { manifest, cmdline, warnings } = await collect(dir);
  assertEquals(cmdline, "--env=PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 /app/main.py");
  const py = await hostPython();
  const tag = `cpython-${py.version.replace(".", "")}`;
  const app = [...manifest.keys()].filter((p) => p.startsWith("/app/")).sort();
  assertEquals(app, [
    "/app/data",
    "/app/data/table.txt",
    "/app/main.py",
    "/app/pkg",
    "/app/pkg/__init__.py",
    "/app/pkg/__pycache__",
    ...tag === "cpython-311" ? ["/app/pkg/__pycache__/helper.cpython-311.pyc"] : [],
    "/app/pkg/helper.py",
  ]);
  assert(has(manifest, `${py.stdlib}/csv.py`), "csv (imported by the app's package) is missing");
  assertEquals(warnings, []);

  const runnable = await tree({ "__main__.py": "print('x')\n" });
  assertEquals((await collect(runnable)).cmdline, "--env=PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 /app");
});

Deno.test("--python-stdlib full brings every module but tests; imports a small part of it", async () => {
  const py = await hostPython();
  const dir = await tree({ "main.py": "print(2 + 2)\n" });
  const imports = (await collect(dir)).manifest;
  const full = (await collect(dir, { "python-stdlib": "full" })).manifest;
  const inStdlib = (m: Manifest) => [...m.keys()].filter((p) => p.startsWith(py.stdlib + "/")).length;
  assert(inStdlib(imports) * 2 < inStdlib(full), `imports ${inStdlib(imports)}, full ${inStdlib(full)}`);
  assert(has(full, `${py.stdlib}/sqlite3/__init__.py`) && has(full, `${py.stdlib}/email/mime/text.py`));
  assert(![...full.keys()].some((p) => /\/(?:test|tests|idlelib|tkinter)\//.test(p)), "tests in the full stdlib");
  // The extension modules' libraries come along (_sqlite3 -> libsqlite3).
  assert([...full.keys()].some((p) => /\/libsqlite3\.so/.test(p)), "no libsqlite3");
});

Deno.test("--python-module adds what the scan cannot see, with its imports", async () => {
  const py = await hostPython();
  const dir = await tree({ "main.py": "import importlib, sys\nimportlib.import_module(sys.argv[1])\n" });
  assert(!has((await collect(dir)).manifest, `${py.stdlib}/fractions.py`));
  const { manifest } = await collect(dir, { "python-module": ["fractions"] });
  assert(has(manifest, `${py.stdlib}/fractions.py`) && has(manifest, `${py.stdlib}/decimal.py`));
});

Deno.test("an import nothing provides is a warning naming the file and line, unless it may fail", async () => {
  const dir = await tree({
    "main.py": "import os\nimport requests\ntry:\n    import ujson\nexcept ImportError:\n    ujson = None\n",
    "helper.py": "",
  });
  const { warnings } = await collect(dir);
  assertEquals(warnings, [
    `osv: warning: [rt:python] main.py:2 imports "requests", which is neither in the app, the venv nor the standard library`,
  ]);
  const single = await collect(`${dir}/main.py`);
  assertEquals(single.warnings.length, 1);
  const sibling = await tree({ "app.py": "import helper\n", "helper.py": "" });
  const near = await collect(`${sibling}/app.py`);
  assertStringIncludes(near.warnings[0]!, `app.py:1 imports "helper"`);
  assertStringIncludes(near.warnings[0]!, "it is next to the app on the host: build the app's directory to include it");
});

Deno.test("a venv's site-packages goes to /venv with a pyvenv.cfg, and its code's imports are followed", async () => {
  const py = await hostPython();
  const venv = await tree({
    "pyvenv.cfg": "home = /usr/bin\n",
    [`lib/python${py.version}/site-packages/pkg/__init__.py`]: "import colorsys\n",
    [`lib/python${py.version}/site-packages/pkg/__pycache__/__init__.cpython-399.pyc`]: "",
    [`lib/python${py.version}/site-packages/hook.pth`]: "import pkg\n",
  });
  const app = await tree({ "main.py": "import pkg\n" });
  const { manifest, cmdline, warnings } = await collect(app, { venv, python: "/usr/bin/python3" });
  assertEquals(warnings, []);
  assertEquals(cmdline, "--env=PYTHONDONTWRITEBYTECODE=1 /venv/bin/python3 /app/main.py");
  const site = `/venv/lib/python${py.version}/site-packages`;
  assertEquals(manifest.get(`${site}/pkg/__init__.py`)?.kind, "file");
  assertEquals(manifest.get(`${site}/hook.pth`)?.kind, "file");
  assert(!has(manifest, `${site}/pkg/__pycache__/__init__.cpython-399.pyc`), "bytecode of another Python");
  const cfg = manifest.get("/venv/pyvenv.cfg");
  assert(cfg?.kind === "file" && cfg.bytes !== undefined);
  assertEquals(
    new TextDecoder().decode(cfg.bytes),
    `home = /usr/bin\ninclude-system-site-packages = false\nversion = ${py.version}\n`,
  );
  assertEquals(manifest.get("/venv/bin/python3"), { kind: "symlink", target: `/usr/bin/python${py.version}` });
  assert(has(manifest, `${py.stdlib}/colorsys.py`), "colorsys (imported by the venv's package) is missing");
});

Deno.test("a venv made by python3 -m venv selects its own interpreter", async () => {
  const py = await hostPython();
  const venv = `${await Deno.makeTempDir()}/venv`;
  const made = await runPython(["-m", "venv", "--without-pip", venv]);
  assertEquals(made.code, 0, made.stderr);
  const app = await tree({ "main.py": "print(1)\n" });
  const { cmdline, manifest } = await collect(app, { venv });
  assertEquals(cmdline, "--env=PYTHONDONTWRITEBYTECODE=1 /venv/bin/python3 /app/main.py");
  assert(has(manifest, `/usr/bin/python${py.version}`));
});

Deno.test("rt:python explains what it cannot use", async () => {
  const empty = await tree({ "README": "" });
  const cases: [string, Record<string, unknown>, string][] = [
    ["/nonexistent/app.py", {}, `Cannot build "/nonexistent/app.py": no such file or directory`],
    [empty, {}, `Cannot build "${empty}": a Python app directory needs a main.py or __main__.py`],
    [`${empty}/README`, { venv: empty }, `"${empty}" is not a virtual environment (it has no pyvenv.cfg)`],
    [`${empty}/README`, { python: "/nonexistent/python3" }, `Python interpreter "/nonexistent/python3" does not exist`],
  ];
  for (const [app, options, message] of cases) {
    const err = await assertRejects(() => collect(app, options));
    assertStringIncludes(err.message, message);
  }
  const py = await hostPython();
  const other = await tree({ "pyvenv.cfg": "", "lib/python3.99/site-packages/x.py": "" });
  const err = await assertRejects(() => collect(`${empty}/README`, { venv: other, python: py.binary }));
  assertStringIncludes(err.message, `virtual environment "${other}" is not for Python ${py.version}`);
});

Deno.test("rt:python detects .py files, python scripts and app directories, and leaves ELF programs to rt:native", async () => {
  const runtime = python().runtimes![0]!;
  const ctx = { plugin: "rt:python", warn: () => {} };
  const dir = await tree({
    "a.py": "",
    "script": "#!/usr/bin/env python3\nprint(1)\n",
    "shell": "#!/bin/sh\n",
    "app/main.py": "",
    "lib/x.py": "",
  });
  const detected = async (path: string) => await runtime.detect!(path, ctx);
  assertEquals(await detected(`${dir}/a.py`), true);
  assertEquals(await detected(`${dir}/script`), true);
  assertEquals(await detected(`${dir}/shell`), false);
  assertEquals(await detected(`${dir}/app`), true);
  assertEquals(await detected(`${dir}/lib`), false);
  assertEquals(await detected(await dynamicHello()), false);
  // Without --runtime, osv build picks rt:python for a .py file.
  assertEquals(
    (await collectManifest({ app: `${dir}/a.py` })).cmdline,
    "--env=PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 /app/a.py",
  );
});
