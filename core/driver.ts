/**
 * Runs pipeline hooks over the ordered plugins: one method per dispatch kind. The only place that calls
 * hook functions, so the only place with the (small) dynamic typing that takes.
 *
 * @module
 */

import { PluginError } from "./errors.ts";
import type { HookArgs, HookContext, HookName, HookNameOfKind, HookResult, PipelineHooks } from "./hooks.ts";
import type { Plugin } from "./plugin.ts";
import type { PluginRegistry } from "./registry.ts";

type AnyHook = (...args: unknown[]) => unknown;

/** Dispatches hooks, wrapping each failure in a {@linkcode PluginError} naming plugin and hook. */
export class PluginDriver {
  readonly #registry: PluginRegistry;

  constructor(registry: PluginRegistry) {
    this.#registry = registry;
  }

  #implementations<K extends HookName>(name: K): { plugin: Plugin; hook: AnyHook; ctx: HookContext }[] {
    const found = [];
    for (const plugin of this.#registry.plugins) {
      const hook = plugin.hooks?.[name] as PipelineHooks[K] | undefined;
      if (hook === undefined) continue;
      const base = this.#registry.context(plugin.name);
      found.push({ plugin, hook: hook as AnyHook, ctx: { plugin: plugin.name, hook: name, warn: base.warn } });
    }
    return found;
  }

  async #call(plugin: Plugin, name: HookName, run: () => unknown): Promise<unknown> {
    try {
      return await run();
    } catch (err) {
      throw err instanceof PluginError ? err : new PluginError(plugin.name, `hook "${name}"`, err);
    }
  }

  /** Asks plugins in order; the first result other than `null`/`undefined` wins. */
  async hookFirst<K extends HookNameOfKind<"first">>(name: K, ...args: HookArgs<K>): Promise<HookResult<K> | null> {
    for (const { plugin, hook, ctx } of this.#implementations(name)) {
      const result = await this.#call(plugin, name, () => hook(...args, ctx));
      if (result !== null && result !== undefined) return result as HookResult<K>;
    }
    return null;
  }

  /**
   * Runs plugins one after another; a returned value replaces the first argument for the next plugin.
   *
   * @returns the final first argument
   */
  async hookSeq<K extends HookNameOfKind<"sequential">>(name: K, ...args: HookArgs<K>): Promise<HookArgs<K>[0]> {
    const current: unknown[] = [...args];
    for (const { plugin, hook, ctx } of this.#implementations(name)) {
      const result = await this.#call(plugin, name, () => hook(...current, ctx));
      if (result !== undefined) current[0] = result;
    }
    return current[0] as HookArgs<K>[0];
  }

  /** Runs all plugins concurrently and waits for all of them. */
  async hookParallel<K extends HookNameOfKind<"parallel">>(name: K, ...args: HookArgs<K>): Promise<void> {
    await Promise.all(
      this.#implementations(name).map(({ plugin, hook, ctx }) => this.#call(plugin, name, () => hook(...args, ctx))),
    );
  }
}
