/**
 * Every pipeline hook, declared once with its dispatch kind (first / sequential / parallel).
 *
 * - `first`: plugins are asked in order until one returns something other than `null`/`undefined`.
 * - `sequential`: each plugin in order; a returned value replaces the first argument for the next one.
 * - `parallel`: all at once, results ignored (notifications).
 *
 * @module
 */

import type { Manifest } from "./manifest.ts";
import type { VmSpec } from "./providers.ts";

/** Resolved settings of `osv build`. */
export interface BuildConfig {
  /** The app given on the command line (host path). */
  app: string;
  /** Output image path. `undefined` until the runtime named the app (then `build/<name>.<ext>`). */
  output: string | undefined;
  /** Filesystem provider name. */
  fs: string;
  /** Image format provider name. */
  format: string;
  /** Runtime provider name, `undefined` = detect. */
  runtime: string | undefined;
  /** Command line override (`-e`), `undefined` = the runtime's default. */
  cmdline: string | undefined;
  /**
   * Shared libraries the app loads with `dlopen()` (`--lib`): sonames, searched as the app's ld.so would,
   * or absolute paths. The runtime adds them and their dependencies.
   */
  libraries: readonly string[];
  /** The guest's network settings; `undefined` when the guest has no network (then no /etc/resolv.conf). */
  network: GuestNetwork | undefined;
  /**
   * Values of the options plugins declare (`Plugin.options`), by name, only those given (command line
   * over osv.json): a string, `true` for a flag, an array for a repeatable option; paths are absolute.
   */
  options: Readonly<Record<string, OptionValue>>;
}

/** The value of a plugin's option: a string, `true` for a flag, the strings of a repeatable option. */
export type OptionValue = string | boolean | readonly string[];

/** Network settings the guest's files describe (DNS for now; addresses come with networking). */
export interface GuestNetwork {
  /** DNS servers (IPv4 or IPv6 addresses), in the order the resolver tries them. */
  nameservers: readonly string[];
  /** Search domains for short host names. */
  search?: readonly string[];
}

/** The kernel the image will carry (same shape as `kernel/build.ts`'s artifact). */
export interface KernelArtifact {
  path: string;
  size: number;
  hash: string;
  version: string;
  cached: boolean;
}

/** What the kernel is built for. */
export interface KernelRequest {
  features: readonly string[];
  log: (line: string) => void;
}

/** What `osv build` produced (also printed by `osv build --json`). */
export interface BuildResult {
  output: string;
  format: string;
  size: number;
  fs: string;
  fsSize: number;
  files: number;
  cmdline: string;
  kernel: { hash: string; version: string; size: number; cached: boolean };
}

/** What `osv run` ended with. */
export interface RunOutcome {
  image: string;
  exitCode: number;
}

/** A hook's dispatch kind, arguments (without the context) and result. */
interface Hook<Kind extends HookKind, Args extends unknown[], Result> {
  kind: Kind;
  args: Args;
  result: Result;
}

/** How a hook is dispatched over the plugins. */
export type HookKind = "first" | "sequential" | "parallel";

/** The single declaration of every hook. */
export interface HookTable {
  /** Adjust the build settings before anything runs. */
  config: Hook<"sequential", [config: BuildConfig], BuildConfig | void>;
  /** Add or patch files (e.g. `/etc/hosts`) after the runtime collected the app. */
  manifest: Hook<"sequential", [manifest: Manifest], Manifest | void>;
  /** Add kernel features the image needs. */
  kernelFeatures: Hook<"sequential", [features: string[]], string[] | void>;
  /** Provide the kernel instead of building it (prebuilt kernels, tests). */
  kernel: Hook<"first", [request: KernelRequest], KernelArtifact | null | void>;
  /** The image has been written. */
  image: Hook<"parallel", [result: BuildResult], void>;
  /** Adjust the VM just before it boots. */
  beforeRun: Hook<"sequential", [spec: VmSpec], VmSpec | void>;
  /** The guest has stopped. */
  afterRun: Hook<"parallel", [outcome: RunOutcome], void>;
}

/** Names of the hooks. */
export type HookName = keyof HookTable;

/** Names of the hooks dispatched with `kind`. */
export type HookNameOfKind<Kind extends HookKind> = {
  [K in HookName]: HookTable[K]["kind"] extends Kind ? K : never;
}[HookName];

/** Arguments a hook is called with (the plugin context is appended). */
export type HookArgs<K extends HookName> = HookTable[K]["args"];

/** What a hook returns. */
export type HookResult<K extends HookName> = HookTable[K]["result"];

/** The context a hook receives as its last argument. Defined here to avoid a cycle with plugin.ts. */
export interface HookContext {
  /** The plugin the hook belongs to. */
  readonly plugin: string;
  /** The hook being run. */
  readonly hook: HookName;
  /** A warning line on stderr naming the plugin. */
  warn(message: string): void;
}

/** Implementations of the hooks, as a plugin writes them. */
export type PipelineHooks = {
  [K in HookName]: (...args: [...HookArgs<K>, HookContext]) => HookResult<K> | Promise<HookResult<K>>;
};

/** Dispatch kind of every hook at run time (checked against {@linkcode HookTable}). */
export const HOOK_KINDS = {
  config: "sequential",
  manifest: "sequential",
  kernelFeatures: "sequential",
  kernel: "first",
  image: "parallel",
  beforeRun: "sequential",
  afterRun: "parallel",
} as const satisfies { [K in HookName]: HookTable[K]["kind"] };
