/**
 * The `osv` command line: parses arguments (core/args.ts), calls the pipeline, maps errors to exit
 * statuses (0 ok, 1 pipeline error, 2 bad command line; `osv run` returns the guest's status).
 *
 * Start-up matters (`osv run` should add little to the hypervisor's own time): the build pipeline is
 * imported only by `osv build`, and nothing here pulls in npm packages or `node:` modules.
 *
 * @module
 */

import denoJson from "../deno.json" with { type: "json" };
import {
  type CommandSpec,
  type OptionValues,
  parseArgs,
  type ParsedArgs,
  programHelp,
  type ProgramSpec,
  UsageError,
} from "./args.ts";
import { ValidationError } from "./errors.ts";
import { loadProjectConfig, type ProjectConfig } from "./config.ts";
import { checkOptionValues, optionKey, optionSpec } from "./options.ts";
import type { OptionValue } from "./hooks.ts";
import { dirname } from "./paths.ts";
import { loadPlugins } from "./loader.ts";
import { formatBytes, silentProgress, terminalProgress } from "./progress.ts";
import type { ImageInfo } from "./inspect.ts";
import type { Accel } from "./providers.ts";
import { PluginRegistry } from "./registry.ts";
import { builtinPlugins } from "./builtins.ts";
import { runImage, shellQuote } from "./run.ts";
import { parseMemoryMiB, parsePositiveInt } from "./units.ts";
import {
  networkFromFlags,
  parseForward,
  parseInterfaceName,
  parseIp,
  parseIpv4,
  parseMac,
  parseNicSpec,
} from "./net.ts";
import type { Plugin } from "./plugin.ts";

/** The toolchain's version (from deno.json). */
export const VERSION: string = denoJson.version;

/** Where the CLI writes; tests capture it. */
export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Whether stderr is a terminal (progress display). */
  isTerminal: boolean;
}

const encoder = new TextEncoder();

/** This process's stdout/stderr. */
export const processIO: CliIO = {
  stdout: (text) => void Deno.stdout.writeSync(encoder.encode(text)),
  stderr: (text) => void Deno.stderr.writeSync(encoder.encode(text)),
  get isTerminal() {
    return Deno.stderr.isTerminal();
  },
};

/** The project config (osv.json) and the plugins it and `--plugin` name. */
interface LoadedPlugins {
  config: ProjectConfig;
  plugins: Plugin[];
}

async function loadFor(cliPlugins: readonly string[], near: string | undefined): Promise<LoadedPlugins> {
  const cwd = Deno.cwd();
  const config = loadProjectConfig(near === undefined ? { cwd } : { cwd, near });
  return { config, plugins: await loadPlugins([...config.plugins, ...cliPlugins], cwd) };
}

async function pluginsFor(cliPlugins: readonly string[], near: string | undefined): Promise<Plugin[]> {
  return (await loadFor(cliPlugins, near)).plugins;
}

const PLUGIN = { flags: "--plugin <path|url>", description: "load a plugin (repeatable)", repeatable: true } as const;

/** The command line's declaration (also gives the help texts). */
export const PROGRAM: ProgramSpec = {
  name: "osv",
  description: "Build and run unikernel images of Linux programs",
  version: VERSION,
  commands: [
    {
      name: "build",
      description: "build an image from a host executable or a Python app",
      argument: {
        name: "path",
        description: "the app: an x86-64 ELF executable (static or dynamic), a .py file or a directory with main.py",
      },
      options: [
        { flags: "-o, --output <file>", description: "output image (default: build/<name>.<format extension>)" },
        { flags: "--fs <name>", description: "filesystem (rofs or ramfs)", default: "rofs" },
        {
          flags: "--format <name>",
          description: "image format: raw, qcow2, vmdk, vmdk-stream, vdi (default: from the -o extension, else raw)",
        },
        { flags: "--runtime <name>", description: "runtime (default: detected from the app)" },
        { flags: "-e, --cmdline <cmdline>", description: "command line, replacing the default /<name>" },
        {
          flags: "--add <host[:guest]>",
          description: "add a host file or directory tree at guest (default: the same path; repeatable)",
          repeatable: true,
        },
        {
          flags: "--lib <soname|path>",
          description: "a shared library the app dlopen()s, with its dependencies (repeatable)",
          repeatable: true,
        },
        PLUGIN,
        { flags: "--json", description: "print one JSON object describing the image" },
        { flags: "--dry-run", description: "print the files and command line instead of building" },
      ],
    },
    {
      name: "run",
      description: "boot an image; exits with the guest program's exit status",
      argument: { name: "image", description: "the image to boot" },
      options: [
        { flags: "-e, --cmdline <cmdline>", description: "command line for this run, replacing the image's" },
        {
          flags: "-m, --memory <size>",
          description: "guest memory: 64, 16M, 1G (plain numbers are MiB)",
          parse: parseMemoryMiB,
          default: 64,
        },
        { flags: "-c, --vcpus <n>", description: "number of vCPUs", parse: parsePositiveInt, default: 1 },
        { flags: "--hypervisor <name>", description: "hypervisor: qemu, qemu-microvm", default: "qemu" },
        { flags: "--accel <accel>", description: "accelerator (default: kvm when usable)", choices: ["kvm", "tcg"] },
        { flags: "--bootchart", description: "print boot phase timings" },
        { flags: "--verbose", description: "kernel log on the console" },
        { flags: "--dry-run", description: "print the hypervisor command line instead of running it" },
        {
          flags: "--forward <rule>",
          description:
            "forward a host port to the guest: [tcp:|udp:][HOSTADDR:]HOSTPORT[:GUESTPORT], e.g. tcp:8080:80 " +
            "(host address 127.0.0.1 unless given; repeatable)",
          repeatable: true,
          parse: validated(parseForward),
        },
        { flags: "--net-restrict", description: "isolate the guest: it reaches nothing but its --forward ports" },
        { flags: "--no-net", description: "no NIC at all" },
        { flags: "-n, --networking", description: "NIC on a tap device on a bridge (created if missing; needs root)" },
        {
          flags: "-b, --bridge <name>",
          description: "bridge for -n, -v and --nic tap (default: virbr0)",
          parse: validated((v) => parseInterfaceName(v, "bridge")),
        },
        { flags: "-v, --vhost", description: "like -n, with vhost-net (needs /dev/vhost-net)" },
        { flags: "--vhost-fallback", description: "without /dev/vhost-net, warn and run -v without vhost-net" },
        {
          flags: "--mac <addr>",
          description: "eth0's MAC (default: derived from the image path)",
          parse: validated(parseMac),
        },
        {
          flags: "--nic <spec>",
          description: "one NIC, in order: user[,forward=RULE...][,restrict=on][,mac=MAC] or " +
            "tap[,ifname=NAME][,bridge=NAME|none][,vhost=on][,mac=MAC] (repeatable; replaces -n/-v)",
          repeatable: true,
          parse: validated(parseNicSpec),
        },
        {
          flags: "--ip <addr>",
          description: "static address: ADDR/MASK[,GATEWAY[,DNS]] for eth0, or IFACE,ADDR,NETMASK (repeatable; " +
            "default: DHCP)",
          repeatable: true,
          parse: validated(parseIp),
        },
        {
          flags: "--defaultgw <addr>",
          description: "default gateway",
          parse: validated((v) => parseIpv4(v, "gateway address")),
        },
        {
          flags: "--nameserver <addr>",
          description: "DNS server (repeatable)",
          repeatable: true,
          parse: validated((v) => parseIpv4(v, "DNS address")),
        },
        PLUGIN,
      ],
    },
    {
      name: "convert",
      description: "convert an image to another format (input format probed from its content)",
      arguments: [
        { name: "input", description: "the image to read" },
        { name: "output", description: "the image to write (.img/.raw, .qcow2, .vmdk, .vdi)" },
      ],
      options: [
        { flags: "--format <name>", description: "output format (default: from the output's extension)" },
        { flags: "--json", description: "print one JSON object describing the conversion" },
        PLUGIN,
      ],
    },
    {
      name: "inspect",
      description: "show an image's format, sizes, layout and command line",
      argument: { name: "image", description: "the image" },
      options: [
        { flags: "--files", description: "list the files of its ramfs filesystem" },
        { flags: "--json", description: "print JSON" },
        PLUGIN,
      ],
    },
    {
      name: "image set-cmdline",
      description: "change the command line stored in an image, in place",
      arguments: [
        { name: "image", description: "the image" },
        { name: "cmdline", description: "the new command line (OSv syntax)", verbatim: true },
      ],
      options: [PLUGIN],
    },
    {
      name: "plugins",
      description: "list the plugins and what each provides",
      options: [{ flags: "--json", description: "print JSON" }, PLUGIN],
    },
  ],
};

/** An option parser that only checks the value (it is parsed again where it is used). */
function validated(parse: (value: string) => unknown): (value: string) => string {
  return (value) => {
    parse(value);
    return value;
  };
}

/**
 * The command line's declaration with `osv build` also taking the options `plugins` declare.
 *
 * @param plugins third-party plugins (the built-ins are always included)
 * @returns the declaration
 * @throws Error when a plugin's option has the name of one of osv build's own
 */
export function programWith(plugins: readonly Plugin[]): ProgramSpec {
  const declared = new PluginRegistry([...builtinPlugins(), ...plugins]).forCommand("build").options();
  return {
    ...PROGRAM,
    commands: PROGRAM.commands.map((command) => {
      if (command.name !== "build") return command;
      const own = new Set(command.options.map((o) => /--[a-z0-9-]+/.exec(o.flags)?.[0]));
      const extra = [...declared.values()].map(({ option, plugin }) => {
        if (own.has(`--${option.name}`)) {
          throw new Error(`Cannot register plugin "${plugin}": option "${option.name}" is one of osv build's own`);
        }
        return optionSpec(option);
      });
      // Plugin options before --plugin, --json and --dry-run, which end the help.
      const at = command.options.indexOf(PLUGIN);
      return { ...command, options: [...command.options.slice(0, at), ...extra, ...command.options.slice(at)] };
    }),
  };
}

/**
 * A first look at `osv build`'s arguments, before the plugins that declare more options are loaded: the
 * `--plugin` values and the app (the first word that is neither an option nor a known option's value).
 */
function prescanBuild(args: readonly string[], command: CommandSpec): { app: string | undefined; plugins: string[] } {
  const takesValue = new Set<string>();
  for (const option of command.options) {
    const match = /^(?:(-[A-Za-z]), )?(--[a-z0-9-]+)( <[^>]+>)?$/.exec(option.flags);
    if (match?.[3] === undefined) continue;
    if (match[1]) takesValue.add(match[1]);
    takesValue.add(match[2]!);
  }
  let app: string | undefined;
  const plugins: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      app ??= args[i + 1];
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      app ??= arg;
      continue;
    }
    const long = arg.startsWith("--");
    const name = long ? arg.split("=", 1)[0]! : arg.slice(0, 2);
    let value: string | undefined;
    if (long && arg.includes("=")) value = arg.slice(arg.indexOf("=") + 1);
    else if (!long && arg.length > 2) value = arg.slice(2);
    else if (takesValue.has(name)) value = args[++i];
    if (name === "--plugin" && value !== undefined) plugins.push(value);
  }
  return { app, plugins };
}

/** Loads what `osv build` needs before its arguments can be parsed: the plugins, whose options it takes. */
async function parseBuild(args: readonly string[]): Promise<{ parsed: ParsedArgs } & LoadedPlugins> {
  const scan = prescanBuild(args.slice(1), programWith([]).commands.find((c) => c.name === "build")!);
  let loaded = await loadFor(scan.plugins, scan.app);
  let parsed = parseArgs(programWith(loaded.plugins), args);
  if (parsed.kind === "command" && parsed.argument !== scan.app) {
    // A plugin option's value was taken for the app: the osv.json next to the real app may differ.
    const again = await loadFor(parsed.options.list("plugin"), parsed.argument);
    if (again.config.path !== loaded.config.path) {
      loaded = again;
      parsed = parseArgs(programWith(loaded.plugins), args);
    }
  }
  return { parsed, ...loaded };
}

/** The plugin options given: from osv.json, then the command line's (which win), checked and absolute. */
function pluginOptionValues(options: OptionValues, loaded: LoadedPlugins): Record<string, OptionValue> {
  const declared = new PluginRegistry([...builtinPlugins(), ...loaded.plugins]).forCommand("build").options();
  const given: Record<string, unknown> = {};
  for (const { option } of declared.values()) {
    const key = optionKey(option.name);
    if (option.value === undefined) {
      if (options.flag(key)) given[option.name] = true;
    } else if (option.repeatable) {
      const list = options.list(key);
      if (list.length > 0) given[option.name] = list;
    } else {
      const value = options.string(key);
      if (value !== undefined) given[option.name] = value;
    }
  }
  const { config } = loaded;
  const fromConfig = config.path === null
    ? {}
    : checkOptionValues(config.options, declared, `"${config.path}"`, dirname(config.path));
  return { ...fromConfig, ...checkOptionValues(given, declared, "the command line", Deno.cwd()) };
}

async function buildCommand(path: string, options: OptionValues, io: CliIO, loaded: LoadedPlugins): Promise<number> {
  const plugins = loaded.plugins;
  // Imported here so that `osv run` and `osv plugins` do not load the pipeline and the kernel builder.
  const { build, collectManifest } = await import("./pipeline.ts");
  const { describeManifest, parseAddSpec } = await import("./add.ts");
  const { sortedEntries } = await import("./manifest.ts");
  const json = options.flag("json");
  const output = options.string("output");
  const runtime = options.string("runtime");
  const cmdline = options.string("cmdline");
  const format = options.string("format");
  const request = {
    app: path,
    fs: options.string("fs") ?? "rofs",
    plugins,
    add: options.list("add").map((spec) => parseAddSpec(spec, Deno.cwd())),
    libraries: options.list("lib"),
    options: pluginOptionValues(options, loaded),
    progress: json || !io.isTerminal ? silentProgress : terminalProgress(),
    warn: (line: string) => io.stderr(line + "\n"),
    ...(output === undefined ? {} : { output }),
    ...(format === undefined ? {} : { format }),
    ...(runtime === undefined ? {} : { runtime }),
    ...(cmdline === undefined ? {} : { cmdline }),
  };
  if (options.flag("dryRun")) {
    const collected = await collectManifest(request);
    io.stdout(describeManifest(sortedEntries(collected.manifest)) + `cmdline ${collected.cmdline}\n`);
    return 0;
  }
  const result = await build(request);
  if (json) io.stdout(JSON.stringify(result) + "\n");
  else io.stdout(`${result.output}\n`);
  return 0;
}

async function runCommand(image: string, options: OptionValues, io: CliIO): Promise<number> {
  const plugins = await pluginsFor(options.list("plugin"), image);
  const accel = options.string("accel") as Accel | undefined;
  const cmdline = options.string("cmdline");
  const dryRun = options.flag("dryRun");
  const network = networkFromFlags({
    networking: options.flag("networking"),
    vhost: options.flag("vhost"),
    bridge: options.string("bridge"),
    vhostFallback: options.flag("vhostFallback"),
    forward: options.list("forward"),
    netRestrict: options.flag("netRestrict"),
    noNet: options.flag("noNet"),
    mac: options.string("mac"),
    nic: options.list("nic"),
    ip: options.list("ip"),
    defaultgw: options.string("defaultgw"),
    nameserver: options.list("nameserver"),
  });
  const result = await runImage({
    network,
    image,
    memMiB: options.number("memory") ?? 64,
    cpus: options.number("vcpus") ?? 1,
    hypervisor: options.string("hypervisor") ?? "qemu",
    bootchart: options.flag("bootchart"),
    verbose: options.flag("verbose"),
    dryRun,
    plugins,
    warn: (line) => io.stderr(line + "\n"),
    ...(accel === undefined ? {} : { accel }),
    ...(cmdline === undefined ? {} : { cmdline }),
  });
  if (dryRun) io.stdout([...result.hostSetup, result.command].map((c) => shellQuote(c) + "\n").join(""));
  return result.exitCode;
}

async function convertCommand(input: string, output: string, options: OptionValues, io: CliIO): Promise<number> {
  const plugins = await pluginsFor(options.list("plugin"), input);
  const format = options.string("format");
  const { convertImage } = await import("./inspect.ts");
  const result = await convertImage({ input, output, plugins, ...(format === undefined ? {} : { format }) });
  if (options.flag("json")) io.stdout(JSON.stringify(result) + "\n");
  else io.stdout(`${result.output}\n`);
  return 0;
}

function describeImage(info: ImageInfo): string {
  const h = info.header;
  const bytes = (n: number) => `${formatBytes(n)} (${n} bytes)`;
  const rows: [string, string][] = [
    ["image", info.image],
    ["format", info.format],
    ["virtual size", bytes(info.virtualSize)],
    ["file size", bytes(info.fileSize)],
    ["on disk", bytes(info.diskUsage)],
    ["data", bytes(info.allocated)],
    ["layout", `osv image version ${h.version}`],
    ["kernel", `offset ${h.kernelOffset}, size ${h.kernelSize}, hash ${h.kernelHash || "-"}`],
    ["filesystem", `${h.fsType}, offset ${h.fsOffset}, size ${h.fsSize}`],
    ["cmdline", h.cmdline],
  ];
  let text = rows.map(([k, v]) => `${k.padEnd(13)}${v}\n`).join("");
  for (const f of info.files ?? []) {
    const mode = f.mode.toString(8).padStart(4, "0");
    text += `${f.type.padEnd(8)}${mode} ${String(f.size).padStart(10)} ${f.path}\n`;
  }
  return text;
}

async function inspectCommand(image: string, options: OptionValues, io: CliIO): Promise<number> {
  const plugins = await pluginsFor(options.list("plugin"), image);
  const { inspectImage } = await import("./inspect.ts");
  const info = await inspectImage(image, { files: options.flag("files"), plugins });
  io.stdout(options.flag("json") ? JSON.stringify(info, null, 2) + "\n" : describeImage(info));
  return 0;
}

async function setCmdlineCommand(image: string, cmdline: string, options: OptionValues, io: CliIO): Promise<number> {
  const plugins = await pluginsFor(options.list("plugin"), image);
  const { setImageCmdline } = await import("./inspect.ts");
  await setImageCmdline(image, cmdline, { plugins });
  io.stdout(`${image}: cmdline ${cmdline}\n`);
  return 0;
}

async function pluginsCommand(options: OptionValues, io: CliIO): Promise<number> {
  const registry = new PluginRegistry([...builtinPlugins(), ...await pluginsFor(options.list("plugin"), undefined)]);
  const described = registry.describe();
  if (options.flag("json")) {
    io.stdout(JSON.stringify(described, null, 2) + "\n");
    return 0;
  }
  for (const d of described) {
    const provides = Object.entries(d.provides)
      .filter(([, names]) => names.length > 0)
      .map(([family, names]) => `${family} ${names.join(", ")}`);
    if (d.hooks.length > 0) provides.push(`hooks ${d.hooks.join(", ")}`);
    const extra = d.enforce ? ` [${d.enforce}]` : "";
    io.stdout(`${d.name.padEnd(18)} ${provides.join("; ") || "-"}${extra}\n`);
  }
  return 0;
}

/**
 * Runs the CLI.
 *
 * @param args arguments after the program name
 * @param io where output goes (default: this process)
 * @returns the exit status
 */
export async function main(args: readonly string[], io: CliIO = processIO): Promise<number> {
  if (args.length === 0) {
    io.stderr(programHelp(PROGRAM));
    return 2;
  }
  try {
    let loaded: LoadedPlugins | undefined;
    let parsed: ParsedArgs;
    if (args[0] === "build") ({ parsed, ...loaded } = await parseBuild(args));
    else parsed = parseArgs(PROGRAM, args);
    switch (parsed.kind) {
      case "help":
      case "version":
        io.stdout(parsed.text);
        return 0;
      case "command":
        if (parsed.command === "build") return await buildCommand(parsed.argument!, parsed.options, io, loaded!);
        if (parsed.command === "run") return await runCommand(parsed.argument!, parsed.options, io);
        if (parsed.command === "convert") {
          return await convertCommand(parsed.arguments[0]!, parsed.arguments[1]!, parsed.options, io);
        }
        if (parsed.command === "inspect") return await inspectCommand(parsed.argument!, parsed.options, io);
        if (parsed.command === "image set-cmdline") {
          return await setCmdlineCommand(parsed.arguments[0]!, parsed.arguments[1]!, parsed.options, io);
        }
        return await pluginsCommand(parsed.options, io);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`osv: error: ${err.message}\n\n${err.help}`);
      return 2;
    }
    if (err instanceof ValidationError) {
      io.stderr(`osv: error: ${err.message}\n`);
      return err.exitCode;
    }
    const message = err instanceof Error ? err.message : String(err);
    io.stderr(`osv: error: ${message}\n`);
    if (Deno.env.get("OSV_DEBUG") === "1" && err instanceof Error) io.stderr(`${err.stack}\n`);
    return 1;
  }
}
