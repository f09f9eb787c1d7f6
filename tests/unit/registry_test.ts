import { assert, assertEquals, assertRejects, assertThrows } from "./_assert.ts";
import { builtinPlugins } from "../../core/builtins.ts";
import { PluginDriver } from "../../core/driver.ts";
import { orderPlugins, PluginRegistry } from "../../core/registry.ts";
import { definePlugin, type Plugin, PluginError } from "../../mod.ts";

const quiet = { warn: () => {} };

Deno.test("PluginRegistry rejects two plugins with the same name", () => {
  const err = assertThrows(() => new PluginRegistry([definePlugin({ name: "a:x" }), definePlugin({ name: "a:x" })]));
  assertEquals(err.message, `Cannot register plugin "a:x": a plugin with that name is already registered`);
});

Deno.test("PluginRegistry rejects two providers of a family with the same name, naming both plugins", () => {
  const other: Plugin = { name: "acme:ramfs", filesystems: [{ name: "ramfs", write: () => Promise.reject() }] };
  const err = assertThrows(() => new PluginRegistry([...builtinPlugins(), other]));
  assertEquals(
    err.message,
    `Cannot register plugin "acme:ramfs": filesystem "ramfs" is already provided by plugin "fs:ramfs"`,
  );
});

Deno.test("PluginRegistry.get() on an unknown name lists the known ones", () => {
  const registry = new PluginRegistry(builtinPlugins());
  const err = assertThrows(() => registry.get("hypervisor", "firecracker"));
  assertEquals(err.message, `Unknown hypervisor "firecracker" (known: qemu, qemu-microvm)`);
  assertEquals(registry.get("filesystem", "ramfs").plugin.name, "fs:ramfs");
});

Deno.test("orderPlugins() puts enforce:pre first and enforce:post last, stable otherwise", () => {
  const names = orderPlugins([
    { name: "n1" },
    { name: "post1", enforce: "post" },
    { name: "pre1", enforce: "pre" },
    { name: "n2" },
    { name: "pre2", enforce: "pre" },
  ]).map((p) => p.name);
  assertEquals(names, ["pre1", "pre2", "n1", "n2", "post1"]);
});

Deno.test("builtinPlugins() registers every built-in through the same plugin shape", () => {
  const names = new PluginRegistry(builtinPlugins()).describe().map((d) => d.name);
  assertEquals(names, [
    "rt:native",
    "rt:python",
    "fs:rofs",
    "fs:ramfs",
    "fmt:raw",
    "fmt:qcow2",
    "fmt:vmdk",
    "fmt:vdi",
    "hv:qemu",
    "hv:qemu-microvm",
    "osv:etc", // enforce: "post"
  ]);
});

Deno.test("PluginRegistry indexes declared options and rejects a name declared twice or not a flag", () => {
  const option = { name: "colour-mode", value: "mode", description: "d", choices: ["a", "b"] } as const;
  const registry = new PluginRegistry([{ name: "x:one", options: [option] }]);
  assertEquals([...registry.options().entries()], [["colour-mode", { option, plugin: "x:one" }]]);
  assertEquals(registry.describe()[0]?.options, ["colour-mode"]);
  const twice = assertThrows(
    () => new PluginRegistry([{ name: "x:one", options: [option] }, { name: "x:two", options: [option] }]),
    Error,
  );
  assertEquals(
    twice.message,
    `Cannot register plugin "x:two": option "colour-mode" is already declared by plugin "x:one"`,
  );
  const bad = assertThrows(() =>
    new PluginRegistry([{ name: "x:bad", options: [{ name: "Bad_Name", description: "" }] }])
  );
  assertEquals(
    bad.message,
    `Cannot register plugin "x:bad": option name "Bad_Name" is not lowercase words joined by "-"`,
  );
});

Deno.test("forCommand() drops plugins that apply only to the other command", () => {
  const registry = new PluginRegistry([{ name: "b", apply: "build" }, { name: "r", apply: "run" }, { name: "all" }]);
  assertEquals(registry.forCommand("run").plugins.map((p) => p.name), ["r", "all"]);
});

Deno.test("hookSeq() runs plugins in order and passes each result on", async () => {
  const seen: string[] = [];
  const plugin = (name: string, enforce?: "pre" | "post"): Plugin => ({
    name,
    ...(enforce ? { enforce } : {}),
    hooks: {
      kernelFeatures(features, ctx) {
        seen.push(ctx.plugin);
        return [...features, name];
      },
    },
  });
  const driver = new PluginDriver(new PluginRegistry([plugin("a"), plugin("z", "post"), plugin("p", "pre")], quiet));
  assertEquals(await driver.hookSeq("kernelFeatures", []), ["p", "a", "z"]);
  assertEquals(seen, ["p", "a", "z"]);
});

Deno.test("hookFirst() returns the first non-null result and skips the rest", async () => {
  let asked = 0;
  const artifact = { path: "/k", size: 1, hash: "h", version: "v", cached: true };
  const driver = new PluginDriver(
    new PluginRegistry([
      { name: "none", hooks: { kernel: () => (asked++, null) } },
      { name: "some", hooks: { kernel: () => (asked++, artifact) } },
      { name: "later", hooks: { kernel: () => (asked++, artifact) } },
    ], quiet),
  );
  assertEquals(await driver.hookFirst("kernel", { features: [], log: () => {} }), artifact);
  assertEquals(asked, 2);
});

Deno.test("a failing hook is reported with its plugin and hook name", async () => {
  const driver = new PluginDriver(
    new PluginRegistry([{ name: "acme:broken", hooks: { manifest: () => Promise.reject(new Error("boom")) } }], quiet),
  );
  const err = await assertRejects(() => driver.hookSeq("manifest", new Map()), PluginError);
  assertEquals(err.message, `plugin "acme:broken" failed in hook "manifest": boom`);
});

Deno.test("hookParallel() calls every plugin", async () => {
  const called: string[] = [];
  const hook = { afterRun: (_o: unknown, ctx: { plugin: string }) => void called.push(ctx.plugin) };
  const driver = new PluginDriver(new PluginRegistry([{ name: "x", hooks: hook }, { name: "y", hooks: hook }], quiet));
  await driver.hookParallel("afterRun", { image: "a.img", exitCode: 0 });
  assert(called.includes("x") && called.includes("y"));
});

Deno.test("a hook's context warns with the plugin's name", async () => {
  const lines: string[] = [];
  const driver = new PluginDriver(
    new PluginRegistry([{ name: "acme:w", hooks: { manifest: (_m, ctx) => ctx.warn("careful") } }], {
      warn: (l) => lines.push(l),
    }),
  );
  await driver.hookSeq("manifest", new Map());
  assertEquals(lines, ["osv: warning: [acme:w] careful"]);
});
