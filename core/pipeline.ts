/**
 * `osv build` as typed stages (design.md §3):
 * config -> runtime.collect (+ --add) -> hooks.manifest -> kernel -> filesystem.write -> image assemble ->
 * format.write.
 *
 * @module
 */

import { dirname } from "./paths.ts";
import { buildKernel as buildKernelFromSources } from "../kernel/build.ts";
import { builtinPlugins } from "./builtins.ts";
import { PluginDriver } from "./driver.ts";
import type { BuildConfig, BuildResult, GuestNetwork, KernelArtifact, KernelRequest } from "./hooks.ts";
import { imageSource, planImage } from "./image.ts";
import { formatForExtension, writeImageFile } from "./disk.ts";
import { type Manifest, sortedEntries } from "./manifest.ts";
import { addHostPath, type AddSpec } from "./add.ts";
import type { Plugin } from "./plugin.ts";
import { formatBytes, type Progress, silentProgress } from "./progress.ts";
import type { CollectedApp, DiskSource, RuntimeProvider } from "./providers.ts";
import { PluginRegistry, type Registered } from "./registry.ts";
import { checkOptionValues } from "./options.ts";

/** Builds (or finds) the kernel for a set of features; `kernel/build.ts`'s `buildKernel` by default. */
export type KernelBuilder = (options: { features: readonly string[]; log: (line: string) => void }) => Promise<
  KernelArtifact
>;

/** What to build. */
export interface BuildRequest {
  /** Host path of the app. */
  app: string;
  /** Output image path (default `build/<name>.<format extension>`). */
  output?: string;
  /** Filesystem name (default `rofs`). */
  fs?: string;
  /** Image format name (default: from the output's extension, else `raw`). */
  format?: string;
  /** Runtime name (default: the first runtime whose `detect` accepts the app). */
  runtime?: string;
  /** Command line replacing the runtime's default (`-e`). */
  cmdline?: string;
  /** Third-party plugins, registered after the built-ins. */
  plugins?: readonly Plugin[];
  /** Progress reporter (default silent). */
  progress?: Progress;
  /** Kernel builder (default: compile `kernel/` with `kernel/build.ts`). */
  buildKernel?: KernelBuilder;
  /** Where plugin warnings go (default stderr). */
  warn?: (line: string) => void;
  /** Host files and trees to add (`--add HOST[:GUEST]`), after the runtime's files. */
  add?: readonly AddSpec[];
  /** Shared libraries the app `dlopen()`s (`--lib`): sonames or absolute paths; see {@linkcode BuildConfig}. */
  libraries?: readonly string[];
  /** The guest's network settings (DNS servers for /etc/resolv.conf); none by default. */
  network?: GuestNetwork;
  /**
   * Values of options plugins declare (`Plugin.options`) by name: strings, `true` for flags, arrays for
   * repeatable ones; relative paths are taken from the current directory. See {@linkcode BuildConfig}.
   */
  options?: Readonly<Record<string, unknown>>;
}

/** The guest's files and command line, before anything is built (`osv build --dry-run`). */
export interface CollectedManifest {
  manifest: Manifest;
  cmdline: string;
}

async function pickRuntime(registry: PluginRegistry, config: BuildConfig): Promise<Registered<RuntimeProvider>> {
  if (config.runtime !== undefined) return registry.get("runtime", config.runtime);
  for (const candidate of registry.all("runtime")) {
    if (candidate.provider.detect && await candidate.provider.detect(config.app, candidate.ctx)) return candidate;
  }
  // Nothing recognised the app: the first runtime's collect() explains what is wrong with it.
  const fallback = registry.all("runtime")[0];
  if (fallback) return fallback;
  throw new Error(`Cannot build "${config.app}": no runtime is registered`);
}

function counting(disk: DiskSource, progress: Progress): DiskSource {
  return {
    size: disk.size,
    async *extents() {
      let done = 0;
      for await (const extent of disk.extents()) {
        done += extent.data.length;
        progress.update(formatBytes(done));
        yield extent;
      }
    },
  };
}

/**
 * Builds an image from an app.
 *
 * @param request what to build
 * @returns what was produced
 * @throws Error with a message naming what could not be built and why
 */
interface Stages {
  registry: PluginRegistry;
  driver: PluginDriver;
  config: BuildConfig;
  collected: CollectedApp;
  manifest: Manifest;
  cmdline: string;
  runtime: Registered<RuntimeProvider>;
}

/* config -> runtime.collect -> --add -> manifest hooks: what both build and --dry-run need. */
async function collectStages(request: BuildRequest): Promise<Stages> {
  const registryOptions = request.warn ? { warn: request.warn } : {};
  const registry = new PluginRegistry([...builtinPlugins(), ...request.plugins ?? []], registryOptions)
    .forCommand("build");
  const driver = new PluginDriver(registry);
  const config = await driver.hookSeq("config", {
    app: request.app,
    output: request.output,
    fs: request.fs ?? "rofs",
    format: request.format ?? (request.output && formatForExtension(registry, request.output)?.provider.name) ??
      "raw",
    runtime: request.runtime,
    cmdline: request.cmdline,
    libraries: request.libraries ?? [],
    network: request.network,
    options: checkOptionValues(request.options ?? {}, registry.options(), "the build request", Deno.cwd()),
  });
  const runtime = await pickRuntime(registry, config);
  const collected = await runtime.provider.collect(config.app, { ...runtime.ctx, config });
  for (const spec of request.add ?? []) addHostPath(collected.manifest, spec);
  const manifest = await driver.hookSeq("manifest", collected.manifest);
  return { registry, driver, config, collected, manifest, cmdline: config.cmdline ?? collected.cmdline, runtime };
}

/**
 * Collects the guest's files and command line without building anything.
 *
 * @param request what would be built
 * @returns the manifest and command line
 * @throws Error when the app or an added path cannot be used
 */
export async function collectManifest(request: BuildRequest): Promise<CollectedManifest> {
  const { manifest, cmdline } = await collectStages(request);
  return { manifest, cmdline };
}

/**
 * Builds an image from an app.
 *
 * @param request what to build
 * @returns what was produced
 * @throws Error with a message naming what could not be built and why
 */
export async function build(request: BuildRequest): Promise<BuildResult> {
  const progress = request.progress ?? silentProgress;
  const { registry, driver, config, collected, manifest, cmdline, runtime } = await collectStages(request);
  const fs = registry.get("filesystem", config.fs);
  const format = registry.get("format", config.format);

  const features = await driver.hookSeq("kernelFeatures", [
    ...fs.provider.kernelFeatures ?? [],
    ...runtime.provider.kernelFeatures ?? [],
    ...registry.plugins.flatMap((p) => p.kernelFeatures ?? []),
  ]);
  const kernelRequest: KernelRequest = {
    features: [...new Set(features)].sort(),
    log: (line) => progress.update(line),
  };
  progress.step("Building kernel");
  const kernel = await driver.hookFirst("kernel", kernelRequest) ??
    await (request.buildKernel ?? buildKernelFromSources)(kernelRequest);
  progress.done(`${kernel.version}${kernel.cached ? " (cached)" : ""}, ${formatBytes(kernel.size)}`);

  const fsImage = await fs.provider.write(manifest, fs.ctx);
  const plan = planImage({
    kernelSize: kernel.size,
    fsSize: fsImage.size,
    fsType: fs.provider.name,
    kernelHash: kernel.hash,
    cmdline,
  });
  const output = config.output ?? `build/${collected.name}.${format.provider.extensions[0] ?? format.provider.name}`;
  await Deno.mkdir(dirname(output) || ".", { recursive: true });

  progress.step(`Writing ${output}`);
  const kernelFile = await Deno.open(kernel.path, { read: true });
  const disk = counting(imageSource(plan, { kernel: kernelFile.readable, fs: fsImage.stream }), progress);
  await writeImageFile(format.provider, { disk, path: output, ctx: format.ctx });
  const size = (await Deno.stat(output)).size;
  progress.done(formatBytes(size));

  const result: BuildResult = {
    output,
    format: format.provider.name,
    size,
    fs: fs.provider.name,
    fsSize: fsImage.size,
    files: sortedEntries(manifest).length,
    cmdline,
    kernel: { hash: kernel.hash, version: kernel.version, size: kernel.size, cached: kernel.cached },
  };
  await driver.hookParallel("image", result);
  return result;
}
