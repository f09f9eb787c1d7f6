/**
 * The plugin registry: orders plugins (`enforce`), indexes their providers by family and name, and
 * answers lookups with clear errors (duplicates, unknown names with the known ones listed).
 *
 * @module
 */

import type { OsvCommand, Plugin } from "./plugin.ts";
import { checkDeclaration, type DeclaredOption } from "./options.ts";
import type {
  FilesystemProvider,
  HypervisorProvider,
  ImageFormatProvider,
  ProviderContext,
  RuntimeProvider,
} from "./providers.ts";

/** Provider families, with the word used in messages and the plugin property that lists them. */
const FAMILIES = {
  filesystem: "filesystems",
  hypervisor: "hypervisors",
  format: "formats",
  runtime: "runtimes",
} as const;

/** A provider family. */
export type Family = keyof typeof FAMILIES;

interface ProviderOf {
  filesystem: FilesystemProvider;
  hypervisor: HypervisorProvider;
  format: ImageFormatProvider;
  runtime: RuntimeProvider;
}

/** A provider together with the plugin that registered it. */
export interface Registered<P> {
  provider: P;
  plugin: Plugin;
  ctx: ProviderContext;
}

/** One line of `osv plugins`. */
export interface PluginDescription {
  name: string;
  enforce: "pre" | "post" | null;
  description: string | null;
  provides: { [F in Family]: string[] };
  hooks: string[];
  /** Names of the `osv build` options it declares. */
  options: string[];
  kernelFeatures: string[];
}

const ORDER = { pre: 0, normal: 1, post: 2 } as const;

/**
 * Orders plugins: `enforce: "pre"` first, then the rest, then `enforce: "post"`; stable within each group.
 *
 * @param plugins plugins in registration order
 * @returns a new ordered array
 */
export function orderPlugins(plugins: readonly Plugin[]): Plugin[] {
  return plugins
    .map((plugin, index) => ({ plugin, index }))
    .sort((a, b) => ORDER[a.plugin.enforce ?? "normal"] - ORDER[b.plugin.enforce ?? "normal"] || a.index - b.index)
    .map(({ plugin }) => plugin);
}

/** A warning printer shared by all plugin contexts. */
export type WarnSink = (line: string) => void;

const defaultWarn: WarnSink = (line) => console.error(line);

/** Plugins in order plus provider lookup. */
export class PluginRegistry {
  /** Plugins in dispatch order. */
  readonly plugins: readonly Plugin[];
  readonly #providers: { [F in Family]: Map<string, Registered<ProviderOf[F]>> };
  readonly #warn: WarnSink;
  readonly #options = new Map<string, DeclaredOption>();

  /**
   * @param plugins plugins in registration order (built-ins first, then third-party)
   * @param options where plugin warnings go
   * @throws Error on two plugins with the same name, two providers of a family with the same name or two
   *   options with the same name
   */
  constructor(plugins: readonly Plugin[], options: { warn?: WarnSink } = {}) {
    this.#warn = options.warn ?? defaultWarn;
    const seen = new Set<string>();
    for (const plugin of plugins) {
      if (seen.has(plugin.name)) {
        throw new Error(`Cannot register plugin "${plugin.name}": a plugin with that name is already registered`);
      }
      seen.add(plugin.name);
    }
    this.plugins = orderPlugins(plugins);
    this.#providers = { filesystem: new Map(), hypervisor: new Map(), format: new Map(), runtime: new Map() };
    for (const plugin of this.plugins) {
      this.#index(plugin, "filesystem", plugin.filesystems ?? []);
      this.#index(plugin, "hypervisor", plugin.hypervisors ?? []);
      this.#index(plugin, "format", plugin.formats ?? []);
      this.#index(plugin, "runtime", plugin.runtimes ?? []);
      for (const option of plugin.options ?? []) {
        checkDeclaration(option, plugin.name);
        const other = this.#options.get(option.name);
        if (other) {
          throw new Error(
            `Cannot register plugin "${plugin.name}": option "${option.name}" is already declared by plugin "${other.plugin}"`,
          );
        }
        this.#options.set(option.name, { option, plugin: plugin.name });
      }
    }
  }

  /** The `osv build` options the plugins declare, by name, in plugin order. */
  options(): ReadonlyMap<string, DeclaredOption> {
    return this.#options;
  }

  #index<F extends Family>(plugin: Plugin, family: F, providers: readonly ProviderOf[F][]): void {
    const map = this.#providers[family];
    for (const provider of providers) {
      const other = map.get(provider.name);
      if (other) {
        throw new Error(
          `Cannot register plugin "${plugin.name}": ${family} "${provider.name}" is already provided by plugin "${other.plugin.name}"`,
        );
      }
      map.set(provider.name, { provider, plugin, ctx: this.context(plugin.name) });
    }
  }

  /** A context for code running on behalf of `plugin`. */
  context(plugin: string): ProviderContext {
    const warn = this.#warn;
    return { plugin, warn: (message) => warn(`osv: warning: [${plugin}] ${message}`) };
  }

  /** The registry restricted to the plugins that apply to `command`. */
  forCommand(command: OsvCommand): PluginRegistry {
    return new PluginRegistry(this.plugins.filter((p) => p.apply === undefined || p.apply === command), {
      warn: this.#warn,
    });
  }

  /**
   * Looks up a provider.
   *
   * @throws Error `Unknown filesystem "x" (known: ramfs)`
   */
  get<F extends Family>(family: F, name: string): Registered<ProviderOf[F]> {
    const found = this.#providers[family].get(name);
    if (found) return found;
    const known = this.names(family);
    throw new Error(
      `Unknown ${family} "${name}" (known: ${known.length > 0 ? known.join(", ") : "none"})`,
    );
  }

  /** Every provider of a family, in plugin order. */
  all<F extends Family>(family: F): Registered<ProviderOf[F]>[] {
    return [...this.#providers[family].values()];
  }

  /** Names of a family's providers, sorted. */
  names(family: Family): string[] {
    return [...this.#providers[family].keys()].sort();
  }

  /** What each plugin provides, for `osv plugins`. */
  describe(): PluginDescription[] {
    return this.plugins.map((plugin) => ({
      name: plugin.name,
      enforce: plugin.enforce ?? null,
      description: plugin.description ?? null,
      provides: {
        filesystem: (plugin.filesystems ?? []).map((p) => p.name),
        hypervisor: (plugin.hypervisors ?? []).map((p) => p.name),
        format: (plugin.formats ?? []).map((p) => p.name),
        runtime: (plugin.runtimes ?? []).map((p) => p.name),
      },
      hooks: Object.keys(plugin.hooks ?? {}),
      options: (plugin.options ?? []).map((o) => o.name),
      kernelFeatures: [
        ...plugin.kernelFeatures ?? [],
        ...(plugin.filesystems ?? []).flatMap((p) => p.kernelFeatures ?? []),
        ...(plugin.runtimes ?? []).flatMap((p) => p.kernelFeatures ?? []),
      ],
    }));
  }
}
