/**
 * The `osv` command line: parses arguments with commander, calls the pipeline, maps errors to exit
 * statuses (0 ok, 1 pipeline error, 2 bad command line; `osv run` returns the guest's status).
 *
 * @module
 */

import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import denoJson from "../deno.json" with { type: "json" };
import { ValidationError } from "./errors.ts";
import { loadProjectConfig } from "./config.ts";
import { loadPlugins } from "./loader.ts";
import { build } from "./pipeline.ts";
import { silentProgress, terminalProgress } from "./progress.ts";
import type { Accel } from "./providers.ts";
import { PluginRegistry } from "./registry.ts";
import { builtinPlugins } from "./builtins.ts";
import { runImage, shellQuote } from "./run.ts";
import { parseMemoryMiB, parsePositiveInt } from "./units.ts";
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

function memoryOption(value: string): number {
  try {
    return parseMemoryMiB(value);
  } catch (err) {
    throw new InvalidArgumentError(err instanceof Error ? err.message : String(err));
  }
}

function countOption(value: string): number {
  try {
    return parsePositiveInt(value);
  } catch (err) {
    throw new InvalidArgumentError(err instanceof Error ? err.message : String(err));
  }
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...previous ?? [], value];
}

async function pluginsFor(cliPlugins: readonly string[], near: string | undefined): Promise<Plugin[]> {
  const cwd = Deno.cwd();
  const config = await loadProjectConfig(near === undefined ? { cwd } : { cwd, near });
  return await loadPlugins([...config.plugins, ...cliPlugins], cwd);
}

/**
 * Builds the commander program. Exposed for help snapshots.
 *
 * @param io output
 * @param setExit receives the exit status of the action that ran
 * @returns the program
 */
export function createProgram(io: CliIO, setExit: (code: number) => void): Command {
  const program = new Command("osv")
    .description("Build and run unikernel images of Linux programs")
    .version(VERSION, "-V, --version", "print the version")
    .helpOption("-h, --help", "show help")
    .helpCommand(false)
    .exitOverride()
    .showHelpAfterError()
    .configureOutput({
      writeOut: (text) => io.stdout(text),
      writeErr: (text) => io.stderr(text),
      outputError: (text, write) => write(text.replace(/^error:/, "osv: error:")),
      getOutHelpWidth: () => 100,
      getErrHelpWidth: () => 100,
    });

  program.command("build")
    .description("build an image from a host executable")
    .argument("<path>", "the app: a static x86-64 ELF executable")
    .option("-o, --output <file>", "output image (default: build/<name>.img)")
    .option("--fs <name>", "filesystem", "ramfs")
    .option("--format <name>", "image format", "raw")
    .option("--runtime <name>", "runtime (default: detected from the app)")
    .option("-e, --cmdline <cmdline>", "command line, replacing the default /<name>")
    .option("--plugin <path|url>", "load a plugin (repeatable)", collect)
    .option("--json", "print one JSON object describing the image")
    .action(async (path, options) => {
      const plugins = await pluginsFor(options.plugin ?? [], path);
      const result = await build({
        app: path,
        fs: options.fs,
        format: options.format,
        plugins,
        progress: options.json || !io.isTerminal ? silentProgress : terminalProgress(),
        warn: (line) => io.stderr(line + "\n"),
        ...(options.output === undefined ? {} : { output: options.output }),
        ...(options.runtime === undefined ? {} : { runtime: options.runtime }),
        ...(options.cmdline === undefined ? {} : { cmdline: options.cmdline }),
      });
      if (options.json) io.stdout(JSON.stringify(result) + "\n");
      else io.stdout(`${result.output}\n`);
      setExit(0);
    });

  program.command("run")
    .description("boot an image; exits with the guest program's exit status")
    .argument("<image>", "the image to boot")
    .option("-e, --cmdline <cmdline>", "command line for this run, replacing the image's")
    .option("-m, --memory <size>", "guest memory: 64, 16M, 1G (plain numbers are MiB)", memoryOption, 64)
    .option("-c, --vcpus <n>", "number of vCPUs", countOption, 1)
    .option("--hypervisor <name>", "hypervisor: qemu, qemu-microvm", "qemu")
    .addOption(new Option("--accel <accel>", "accelerator (default: kvm when usable)").choices(["kvm", "tcg"] as const))
    .option("--bootchart", "print boot phase timings")
    .option("--verbose", "kernel log on the console")
    .option("--dry-run", "print the hypervisor command line instead of running it")
    .option("--plugin <path|url>", "load a plugin (repeatable)", collect)
    .action(async (image, options) => {
      const plugins = await pluginsFor(options.plugin ?? [], image);
      const accel: Accel | undefined = options.accel;
      const result = await runImage({
        image,
        memMiB: options.memory,
        cpus: options.vcpus,
        hypervisor: options.hypervisor,
        bootchart: options.bootchart ?? false,
        verbose: options.verbose ?? false,
        dryRun: options.dryRun ?? false,
        plugins,
        warn: (line) => io.stderr(line + "\n"),
        ...(accel === undefined ? {} : { accel }),
        ...(options.cmdline === undefined ? {} : { cmdline: options.cmdline }),
      });
      if (options.dryRun) io.stdout(shellQuote(result.command) + "\n");
      setExit(result.exitCode);
    });

  program.command("plugins")
    .description("list the plugins and what each provides")
    .option("--json", "print JSON")
    .option("--plugin <path|url>", "load a plugin (repeatable)", collect)
    .action(async (options) => {
      const registry = new PluginRegistry([...builtinPlugins(), ...await pluginsFor(options.plugin ?? [], undefined)]);
      const described = registry.describe();
      if (options.json) {
        io.stdout(JSON.stringify(described, null, 2) + "\n");
      } else {
        for (const d of described) {
          const provides = Object.entries(d.provides)
            .filter(([, names]) => names.length > 0)
            .map(([family, names]) => `${family} ${names.join(", ")}`);
          if (d.hooks.length > 0) provides.push(`hooks ${d.hooks.join(", ")}`);
          const extra = d.enforce ? ` [${d.enforce}]` : "";
          io.stdout(`${d.name.padEnd(18)} ${provides.join("; ") || "-"}${extra}\n`);
        }
      }
      setExit(0);
    });
  return program;
}

/**
 * Runs the CLI.
 *
 * @param args arguments after the program name
 * @param io where output goes (default: this process)
 * @returns the exit status
 */
export async function main(args: readonly string[], io: CliIO = processIO): Promise<number> {
  let exitCode = 0;
  const program = createProgram(io, (code) => exitCode = code);
  if (args.length === 0) {
    io.stderr(program.helpInformation());
    return 2;
  }
  try {
    await program.parseAsync([...args], { from: "user" });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
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
