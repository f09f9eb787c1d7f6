import { assertEquals } from "./_assert.ts";
import { type PythonImport, scanImports } from "../../plugins/_python_imports.ts";
import { hostPython } from "./_python.ts";

/** One line per import: kind, dots + module, names, flags. */
function summary(source: string): string[] {
  return scanImports(source).map((i: PythonImport) =>
    `${i.kind} ${".".repeat(i.level)}${i.module}` + (i.names.length > 0 ? ` [${i.names.join(",")}]` : "") +
    (i.conditional ? " conditional" : "") + (i.typeChecking ? " type-checking" : "") +
    (i.mainOnly ? " main-only" : "") + ` @${i.line}`
  );
}

Deno.test("scanImports() reads import and from-import statements with aliases, lists and parentheses", () => {
  assertEquals(
    summary(
      "import os\nimport os.path as p, sys\nfrom json import (loads,\n  dumps as d)\nfrom a.b import *\n" +
        "import x; import y\n",
    ),
    [
      "import os @1",
      "import os.path @2",
      "import sys @2",
      "from json [loads,dumps] @3",
      "from a.b [*] @5",
      "import x @6",
      "import y @6",
    ],
  );
});

Deno.test("scanImports() keeps the level of relative imports", () => {
  assertEquals(summary("from . import sibling\nfrom .mod import f\nfrom .. import up\nfrom ...pkg.sub import g\n"), [
    "from . [sibling] @1",
    "from .mod [f] @2",
    "from .. [up] @3",
    "from ...pkg.sub [g] @4",
  ]);
  assertEquals(summary("from .import a\nfrom .. import (b as c, d)\n"), ["from . [a] @1", "from .. [b,d] @2"]);
});

Deno.test("scanImports() ignores imports inside comments, strings and docstrings", () => {
  const source = [
    '"""A module.',
    "",
    "import not_a_module",
    'from nowhere import nothing"""',
    "# import commented",
    "x = 'import quoted'  # from here import there",
    'y = """',
    "import in_triple",
    '"""',
    "z = f\"{'import' if True else ''} {__import__('real_call')}\"",
    "w = rb'from raw import bytes'",
    "import real",
    "",
  ].join("\n");
  // __import__ inside an f-string's replacement field is code, but not a statement we scan for.
  assertEquals(summary(source), ["import real @12"]);
});

Deno.test("scanImports() marks imports in try and if blocks conditional, also on one line", () => {
  const source = [
    "try:",
    "    import fast",
    "except ImportError:",
    "    import slow",
    "if sys.platform == 'win32':",
    "    import nt",
    "else:",
    "    import posix",
    "try: import one_line",
    "except ImportError: pass",
    "def f():",
    "    import lazy",
    "    if x:",
    "        import deeper",
    "import top",
    "",
  ].join("\n");
  assertEquals(summary(source), [
    "import fast conditional @2",
    "import slow conditional @4",
    "import nt conditional @6",
    "import posix conditional @8",
    "import one_line conditional @9",
    "import lazy @12",
    "import deeper conditional @14",
    "import top @15",
  ]);
});

Deno.test("scanImports() marks imports under if TYPE_CHECKING, but not its else branch", () => {
  const source = [
    "from typing import TYPE_CHECKING",
    "if TYPE_CHECKING:",
    "    from collections.abc import Iterator",
    "    import decimal",
    "else:",
    "    import runtime_only",
    "if typing.TYPE_CHECKING: import one_liner",
    "class C:",
    "    if TYPE_CHECKING:",
    "        import nested",
    "    import in_class",
    "",
  ].join("\n");
  assertEquals(summary(source), [
    "from typing [TYPE_CHECKING] @1",
    "from collections.abc [Iterator] conditional type-checking @3",
    "import decimal conditional type-checking @4",
    "import runtime_only conditional @6",
    "import one_liner conditional type-checking @7",
    "import nested conditional type-checking @10",
    "import in_class @11",
  ]);
});

Deno.test("scanImports() finds __import__ and import_module calls with one literal name only", () => {
  const source = [
    "m = __import__('json')",
    'importlib.import_module("email.mime.text")',
    "import_module('.sibling', __package__)",
    "__import__(name)",
    "importlib.import_module('a' + b)",
    "importlib.import_module(f'x{y}')",
    "__import__('pkg', fromlist=['x'])",
    "",
  ].join("\n");
  assertEquals(summary(source), [
    "call json @1",
    "call email.mime.text @2",
    "call .sibling @3",
    "call pkg @7",
  ]);
});

Deno.test("scanImports() follows continuation lines, brackets and nested f-strings (Python 3.12)", () => {
  const source = [
    "x = (1,",
    "     2); import after_bracket",
    "y = 1 + \\",
    "    2",
    "import after_continuation",
    'z = f"{d["key"]} {f\'{e}\'} {{literal}}"',
    "import after_fstring",
    "match = 1",
    "match command:",
    "    case 'x':",
    "        import in_case",
    "",
  ].join("\n");
  assertEquals(summary(source), [
    "import after_bracket @2",
    "import after_continuation @5",
    "import after_fstring @7",
    "import in_case conditional @11",
  ]);
});

Deno.test("scanImports() stops at an unterminated string without throwing", () => {
  assertEquals(summary("import before\nx = 'never closed\nimport hidden\n"), ["import before @1"]);
});

Deno.test("scanImports() agrees with Python's own ast module on every file of the host's standard library", async () => {
  const python = await hostPython();
  const script = `
import ast, json, os, sys
out = {}
for dirpath, _, files in os.walk(sys.argv[1]):
    for name in files:
        if not name.endswith(".py"): continue
        path = os.path.join(dirpath, name)
        try: tree = ast.parse(open(path, "rb").read())
        except (SyntaxError, ValueError): continue
        items = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                items += [f"import {a.name}@{node.lineno}" for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = ",".join(a.name for a in node.names)
                items.append(f"from {'.' * node.level}{node.module or ''} [{names}]@{node.lineno}")
        out[path] = sorted(items)
json.dump(out, sys.stdout)
`;
  const out = await new Deno.Command(python.binary, { args: ["-c", script, python.stdlib], stdout: "piped" }).output();
  const oracle = JSON.parse(new TextDecoder().decode(out.stdout)) as Record<string, string[]>;
  const differing: string[] = [];
  for (const [path, expected] of Object.entries(oracle)) {
    const got = scanImports(new TextDecoder().decode(await Deno.readFile(path)))
      .filter((i) => i.kind !== "call")
      .map((i) =>
        i.kind === "import"
          ? `import ${i.module}@${i.line}`
          : `from ${".".repeat(i.level)}${i.module} [${i.names.join(",")}]@${i.line}`
      ).sort();
    if (JSON.stringify(got) !== JSON.stringify(expected)) differing.push(path);
  }
  assertEquals(Object.keys(oracle).length > 100, true);
  assertEquals(differing, []);
});

Deno.test("scanImports() marks what only runs as the program: the main guard and private functions only it calls", () => {
  // Public functions may be called from other modules (timeit.main() is documented): not main-only.
  const source = [
    "import always",
    "def _test():",
    "    import doctest",
    "    _test_generator()",
    "def _test_generator():",
    "    from statistics import stdev",
    "def _helper():",
    "    import used_elsewhere",
    "def main():",
    "    import public_main",
    "x = _helper()",
    "if __name__ == '__main__':",
    "    import argparse",
    "    _test(); _helper(); main()",
    "else:",
    "    import imported_as_module",
    "",
  ].join("\n");
  assertEquals(summary(source), [
    "import always @1",
    "import doctest main-only @3",
    "from statistics [stdev] main-only @6",
    "import used_elsewhere @8",
    "import public_main @10",
    "import argparse conditional main-only @13",
    "import imported_as_module conditional @16",
  ]);
});

Deno.test("scanImports() numbers try blocks and marks imports in their except ImportError clauses as fallbacks", () => {
  const found = scanImports([
    "try:",
    "    from _json import scanner",
    "except ImportError:",
    "    scanner = None",
    "    import pure_json",
    "try:",
    "    import fast",
    "except (ValueError, ModuleNotFoundError) as e:",
    "    import slow",
    "except OSError:",
    "    import other",
    "",
  ].join("\n"));
  assertEquals(found.map((i) => [i.module, i.tryBody, i.fallbackOf]), [
    ["_json", 0, null],
    ["pure_json", null, 0],
    ["fast", 1, null],
    ["slow", null, 1],
    ["other", null, null],
  ]);
});
