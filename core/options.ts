/**
 * Options plugins declare for `osv build` (`Plugin.options`): their command-line flags, and the checking
 * of values given on the command line, in osv.json or by a program calling `build()`.
 *
 * @module
 */

import type { OptionValue } from "./hooks.ts";
import type { OptionSpec } from "./args.ts";
import type { PluginOption } from "./plugin.ts";
import { isAbsolute, resolve } from "./paths.ts";

/** A declared option and the plugin that declared it. */
export interface DeclaredOption {
  option: PluginOption;
  plugin: string;
}

const NAME = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;

/**
 * Checks an option declaration.
 *
 * @param option the declaration
 * @param plugin the declaring plugin, for the message
 * @throws TypeError naming the plugin when the name cannot be a flag or `choices` is empty
 */
export function checkDeclaration(option: PluginOption, plugin: string): void {
  if (!NAME.test(option.name)) {
    throw new TypeError(
      `Cannot register plugin "${plugin}": option name "${option.name}" is not lowercase words joined by "-"`,
    );
  }
  if (option.choices !== undefined && (option.value === undefined || option.choices.length === 0)) {
    throw new TypeError(`Cannot register plugin "${plugin}": option "${option.name}" has choices but no value`);
  }
}

/**
 * The command-line declaration of a plugin's option.
 *
 * @param option the declaration
 * @returns the parser's option spec (`--name <value>`, or a flag)
 */
export function optionSpec(option: PluginOption): OptionSpec {
  return {
    flags: option.value === undefined ? `--${option.name}` : `--${option.name} <${option.value}>`,
    description: option.description,
    ...(option.choices === undefined ? {} : { choices: option.choices }),
    ...(option.repeatable ? { repeatable: true } : {}),
  };
}

/** The parser's key of an option (`python-stdlib` is `pythonStdlib`), as core/args.ts derives it. */
export function optionKey(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/**
 * Checks values against the declarations and makes relative paths absolute.
 *
 * @param values option name -> value, from `where`
 * @param declared every declared option, by name
 * @param where where the values come from, for messages (`osv.json "/app/osv.json"`, `the build request`)
 * @param base directory relative paths are taken from
 * @returns the checked values (a repeatable option given one string becomes an array of one)
 * @throws Error `Invalid option "x" in <where>: <why>` for unknown names and values of the wrong type
 */
export function checkOptionValues(
  values: Readonly<Record<string, unknown>>,
  declared: ReadonlyMap<string, DeclaredOption>,
  where: string,
  base: string,
): Record<string, OptionValue> {
  const checked: Record<string, OptionValue> = {};
  for (const [name, value] of Object.entries(values)) {
    const fail = (why: string): never => {
      throw new Error(`Invalid option "${name}" in ${where}: ${why}`);
    };
    const found = declared.get(name);
    if (found === undefined) {
      const known = [...declared.keys()].sort();
      return fail(`no plugin declares it (known: ${known.length > 0 ? known.join(", ") : "none"})`);
    }
    const { option } = found;
    const one = (v: unknown): string => {
      if (typeof v !== "string") return fail(`expected a string, got ${JSON.stringify(v)}`);
      if (option.choices && !option.choices.includes(v)) {
        fail(`"${v}" is not one of ${option.choices.join(", ")}`);
      }
      if (option.path && v === "") fail("expected a path, got an empty string");
      return option.path && !isAbsolute(v) ? resolve(base, v) : v;
    };
    if (option.value === undefined) {
      if (typeof value !== "boolean") fail(`it is a flag: expected true or false, got ${JSON.stringify(value)}`);
      if (value) checked[name] = true;
    } else if (option.repeatable) {
      checked[name] = (Array.isArray(value) ? value : [value]).map(one);
    } else {
      checked[name] = one(value);
    }
  }
  return checked;
}
