import { assertEquals, assertStringIncludes } from "./_assert.ts";
import { main, VERSION } from "../../core/cli.ts";
import { ensureHostTools } from "../../core/setup.ts";
import { extractRange, readImageHeader } from "../../core/image.ts";
import { openRawDisk } from "../../formats/raw.ts";
import {
  captureIO,
  generatedEtcFiles,
  removeDryRunFiles,
  ROOT,
  sh,
  staticHello,
  stubKernel,
  withEnv,
} from "./_helpers.ts";

const EXAMPLE_PLUGIN = `${ROOT}tests/plugins/example_plugin.ts`;
const FAKE_KERNEL = `${ROOT}tests/plugins/fake_kernel.ts`;

Deno.test("osv --version prints the version from deno.json", async () => {
  const io = captureIO();
  assertEquals(await main(["--version"], io), 0);
  assertEquals(io.out, `${VERSION}\n`);
  assertEquals(VERSION, "0.1.0");
});

Deno.test("osv --help lists the commands", async () => {
  const io = captureIO();
  assertEquals(await main(["--help"], io), 0);
  assertEquals(
    io.out,
    `Usage: osv [options] [command]

Build and run unikernel images of Linux programs

Options:
  -V, --version                                  print the version
  -h, --help                                     show help

Commands:
  build [options] <path>                         build an image from a host executable or a Python app
  run [options] <image>                          boot an image; exits with the guest program's exit status
  convert [options] <input> <output>             convert an image to another format (input format probed from its content)
  inspect [options] <image>                      show an image's format, sizes, layout and command line
  image set-cmdline [options] <image> <cmdline>  change the command line stored in an image, in place
  plugins [options]                              list the plugins and what each provides
`,
  );
});

Deno.test("osv run --help shows OSv's run.py flag names", async () => {
  const io = captureIO();
  assertEquals(await main(["run", "--help"], io), 0);
  for (
    const flag of [
      "-e, --cmdline",
      "-m, --memory",
      "-c, --vcpus",
      "--hypervisor",
      "--accel",
      "--dry-run",
      "-n, --networking",
      "-b, --bridge",
      "-v, --vhost",
      "--forward <rule>",
    ]
  ) {
    assertStringIncludes(io.out, flag);
  }
});

Deno.test("an unknown flag exits with status 2 and prints the usage", async () => {
  const io = captureIO();
  assertEquals(await main(["build", "--bogus", "x"], io), 2);
  assertStringIncludes(io.err, "osv: error: unknown option '--bogus'");
  assertStringIncludes(io.err, "Usage: osv build [options] <path>");
});

Deno.test("a missing argument exits with status 2", async () => {
  const io = captureIO();
  assertEquals(await main(["run"], io), 2);
  assertStringIncludes(io.err, "missing required argument 'image'");
});

Deno.test("a bad -m value exits with status 2 and says what is accepted", async () => {
  const io = captureIO();
  assertEquals(await main(["run", "-m", "12X", "a.img"], io), 2);
  assertStringIncludes(io.err, `"12X" is not a memory size (examples: 64, 16M, 1G)`);
});

Deno.test("no command at all exits with status 2 and prints the usage", async () => {
  const io = captureIO();
  assertEquals(await main([], io), 2);
  assertStringIncludes(io.err, "Usage: osv");
});

Deno.test("a pipeline error prints one osv: error line without a stack, status 1", async () => {
  const io = captureIO();
  assertEquals(await main(["build", "/nonexistent/app"], io), 1);
  assertEquals(io.err, `osv: error: Cannot build "/nonexistent/app": no such file\n`);
});

Deno.test("osv plugins lists every built-in and --json describes what each provides", async () => {
  const io = captureIO();
  assertEquals(await main(["plugins"], io), 0);
  assertStringIncludes(io.out, "fs:ramfs           filesystem ramfs");
  const json = captureIO();
  assertEquals(await main(["plugins", "--json", "--plugin", EXAMPLE_PLUGIN], json), 0);
  const described = JSON.parse(json.out) as { name: string; hooks: string[]; provides: { hypervisor: string[] } }[];
  assertEquals(described.map((d) => d.name), [
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
    "example:motd",
    "osv:etc", // enforce: "post"
  ]);
  assertEquals(described.find((d) => d.name === "example:motd")?.hooks, ["config", "manifest"]);
  assertEquals(described.find((d) => d.name === "hv:qemu")?.provides.hypervisor, ["qemu"]);
});

Deno.test("a plugin loaded with --plugin adds /etc/motd to the image's cpio", async () => {
  await ensureHostTools(["cpio"]);
  const dir = await Deno.makeTempDir();
  const io = captureIO();
  const app = await staticHello();
  const status = await main(
    [
      "build",
      app,
      "--fs",
      "ramfs",
      "-o",
      `${dir}/m.img`,
      "--plugin",
      EXAMPLE_PLUGIN,
      "--plugin",
      FAKE_KERNEL,
      "--json",
    ],
    io,
  );
  assertEquals(status, 0, io.err);
  const result = JSON.parse(io.out);
  assertEquals(result.output, `${dir}/m.img`);
  assertEquals(result.cmdline, "/hello");
  assertEquals(result.files, 3 + generatedEtcFiles()); // /hello, /etc, /etc/motd and the generated /etc
  const disk = await openRawDisk(`${dir}/m.img`);
  const header = await readImageHeader(disk, "m.img");
  await extractRange(disk, { offset: header.fsOffset, size: header.fsSize }, `${dir}/fs.cpio`);
  disk.close();
  await sh("cpio", ["-i", "-d", "--quiet", "-F", `${dir}/fs.cpio`], { cwd: dir });
  assertEquals(await Deno.readTextFile(`${dir}/etc/motd`), "Welcome to osv\n");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("plugins listed in osv.json are loaded relative to the config file", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/osv.json`, JSON.stringify({ plugins: [EXAMPLE_PLUGIN] }));
  const app = `${dir}/hello`;
  await Deno.copyFile(await staticHello(), app);
  const io = captureIO();
  assertEquals(await main(["build", app, "-o", `${dir}/x.img`, "--plugin", FAKE_KERNEL, "--json"], io), 0, io.err);
  assertEquals(JSON.parse(io.out).files, 3 + generatedEtcFiles());
  await Deno.remove(dir, { recursive: true });
});

Deno.test("osv build takes the options plugins declare: built-ins', --plugin's and from osv.json", async () => {
  const help = captureIO();
  assertEquals(await main(["build", "--help"], help), 0);
  assertStringIncludes(help.out, "--python-stdlib <mode>");
  assertStringIncludes(help.out, `(choices: "full", "imports")`);
  assertStringIncludes(help.out, "--venv <dir>");
  const withPlugin = captureIO();
  assertEquals(await main(["build", "--plugin", EXAMPLE_PLUGIN, "--help"], withPlugin), 0);
  assertStringIncludes(withPlugin.out, "--motd <text>");

  const app = await staticHello();
  const io = captureIO();
  assertEquals(
    await main(["build", "--motd", "from the command line", app, `--plugin=${EXAMPLE_PLUGIN}`, "--dry-run"], io),
    0,
    io.err,
  );
  assertStringIncludes(io.out, "/etc/motd (22 bytes)");

  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(
    `${dir}/osv.json`,
    JSON.stringify({ plugins: [EXAMPLE_PLUGIN], options: { motd: "config" } }),
  );
  await Deno.copyFile(app, `${dir}/hello`);
  const fromConfig = captureIO();
  assertEquals(await main(["build", `${dir}/hello`, "--dry-run"], fromConfig), 0, fromConfig.err);
  assertStringIncludes(fromConfig.out, "/etc/motd (7 bytes)");
  const overridden = captureIO();
  assertEquals(
    await main(["build", `${dir}/hello`, "--motd", "flag wins", "--dry-run"], overridden),
    0,
    overridden.err,
  );
  assertStringIncludes(overridden.out, "/etc/motd (10 bytes)");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("bad plugin option values in osv.json or on the command line are clear errors", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.copyFile(await staticHello(), `${dir}/hello`);
  await Deno.writeTextFile(`${dir}/osv.json`, JSON.stringify({ options: { colour: "red" } }));
  const unknown = captureIO();
  assertEquals(await main(["build", `${dir}/hello`, "--dry-run"], unknown), 1);
  assertStringIncludes(
    unknown.err,
    `osv: error: Invalid option "colour" in "${dir}/osv.json": no plugin declares it (known: python, python-module, python-stdlib, venv)`,
  );
  await Deno.writeTextFile(`${dir}/osv.json`, JSON.stringify({ options: { "python-stdlib": "some" } }));
  const choice = captureIO();
  assertEquals(await main(["build", `${dir}/hello`, "--dry-run"], choice), 1);
  assertStringIncludes(
    choice.err,
    `Invalid option "python-stdlib" in "${dir}/osv.json": "some" is not one of full, imports`,
  );
  await Deno.writeTextFile(`${dir}/osv.json`, JSON.stringify({ options: [] }));
  const shape = captureIO();
  assertEquals(await main(["build", `${dir}/hello`, "--dry-run"], shape), 1);
  assertStringIncludes(shape.err, `"options" must be an object (option name -> value)`);
  await Deno.remove(`${dir}/osv.json`);
  const flag = captureIO();
  assertEquals(await main(["build", `${dir}/hello`, "--python-stdlib", "some"], flag), 2);
  assertStringIncludes(flag.err, "argument 'some' is invalid. Allowed choices are full, imports.");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a plugin path that does not exist gives a clear error", async () => {
  const io = captureIO();
  assertEquals(await main(["plugins", "--plugin", "./nope/plugin.ts"], io), 1);
  assertStringIncludes(io.err, `osv: error: Cannot load plugin "./nope/plugin.ts": `);
});

Deno.test("osv run --dry-run prints the QEMU command with the kernel options first", async () => {
  const dir = await Deno.makeTempDir();
  const built = captureIO();
  const status = await withEnv(
    { OSV_FAKE_KERNEL: await stubKernel() },
    async () => main(["build", await staticHello(), "-o", `${dir}/d.img`, "--plugin", FAKE_KERNEL], built),
  );
  assertEquals(status, 0, built.err);
  const io = captureIO();
  assertEquals(
    await main(
      ["run", `${dir}/d.img`, "--dry-run", "--accel", "tcg", "-m", "1G", "-c", "2", "--bootchart", "-e", "/hello x"],
      io,
    ),
    0,
    io.err,
  );
  assertStringIncludes(io.out, "-machine pc,accel=tcg -cpu max");
  assertStringIncludes(io.out, "-m 1024 -smp 2");
  // The default NIC is on the user-mode network: its fixed addresses go on the command line (no DHCP).
  assertStringIncludes(
    io.out,
    "-append '--bootchart --ip=eth0,10.0.2.15,255.255.255.0 --defaultgw=10.0.2.2 --nameserver=10.0.2.3 /hello x'",
  );
  await removeDryRunFiles(io.out);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("the CLI's static module graph has no npm: or node: modules and leaves build-only code out", async () => {
  const info = await new Deno.Command(Deno.execPath(), { args: ["info", "--json", `${ROOT}main.ts`], stdout: "piped" })
    .output();
  type Dep = { specifier: string; code?: { specifier: string }; isDynamic?: boolean };
  const graph = JSON.parse(new TextDecoder().decode(info.stdout)) as {
    roots: string[];
    modules: { specifier: string; dependencies?: Dep[] }[];
  };
  const bySpecifier = new Map(graph.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const visit = (specifier: string) => {
    if (seen.has(specifier)) return;
    seen.add(specifier);
    for (const dep of bySpecifier.get(specifier)?.dependencies ?? []) {
      if (dep.code && !dep.isDynamic) visit(dep.code.specifier);
    }
  };
  visit(graph.roots[0]!);
  const loaded = [...seen].map((s) => s.replace(new URL(ROOT, "file:///").href, ""));
  assertEquals(loaded.filter((s) => /^(npm|node|jsr|https?):/.test(s)), []);
  assertEquals(loaded.filter((s) => s === "core/pipeline.ts" || s.startsWith("kernel/")), []);
  // Built-in plugins import their collectors, filesystem writers and the ELF and library code when a build
  // uses them: `osv run` starts without them.
  const buildOnly = /^(core\/(elf|libraries|ldcache|ldsearch|ldconf|add|api)\.ts|plugins\/_.*)$/;
  assertEquals(loaded.filter((s) => buildOnly.test(s)), []);
  assertStringIncludes(loaded.join(" "), "core/run.ts");
});

Deno.test("osv run --help shows defaults and choices", async () => {
  const io = captureIO();
  assertEquals(await main(["run", "--help"], io), 0);
  assertStringIncludes(io.out, "Usage: osv run [options] <image>\n");
  assertStringIncludes(io.out, "(plain numbers are MiB) (default: 64)");
  assertStringIncludes(
    io.out,
    `--accel <accel>          accelerator (default: kvm when usable) (choices: "kvm", "tcg")`,
  );
  assertStringIncludes(io.out, `--hypervisor <name>      hypervisor: qemu, qemu-microvm (default: "qemu")`);
});

Deno.test("bad values, extra arguments and unknown commands exit with status 2", async () => {
  for (
    const [args, message] of <[string[], string][]> [
      [["run", "a.img", "--accel", "hvf"], "Allowed choices are kvm, tcg."],
      [["run", "a.img", "-c", "0"], `"0" is not a positive integer`],
      [["run", "a.img", "b.img"], "too many arguments for 'run'"],
      [["build", "app", "-o"], "option '-o, --output <file>' argument missing"],
      [["bogus"], "unknown command 'bogus'"],
    ]
  ) {
    const io = captureIO();
    assertEquals(await main(args, io), 2, args.join(" "));
    assertStringIncludes(io.err, `osv: error: `);
    assertStringIncludes(io.err, message);
    assertStringIncludes(io.err, "Usage: osv");
    assertEquals(io.out, "");
  }
});
