/**
 * A small declarative command-line parser for `osv` (subcommands, long/short options, `--opt=value`,
 * flags, repeatable options, defaults, choices, value parsers, one positional argument, help and version).
 * Deliberately dependency-free: it is on the start-up path of every `osv` invocation.
 *
 * @module
 */

/** One option, declared commander-style: `flags` is `"-o, --output <file>"` or `"--json"`. */
export interface OptionSpec {
  /** Short and long names, and `<value>` when the option takes one. */
  flags: string;
  /** One line for the help. */
  description: string;
  /** Value when the option is absent (shown in the help). */
  default?: string | number;
  /** Accepted values (checked before `parse`). */
  choices?: readonly string[];
  /** Converts the value; throws an Error whose message says what is accepted. */
  parse?: (value: string) => unknown;
  /** Collect every occurrence into an array (default: the last one wins). */
  repeatable?: boolean;
}

/** A required positional argument. */
export interface ArgumentSpec {
  name: string;
  description: string;
  /** Taken as is even when it starts with "-" (e.g. a kernel command line). */
  verbatim?: boolean;
}

/** One subcommand. */
export interface CommandSpec {
  /** One word, or two for a command group (`image set-cmdline`). */
  name: string;
  description: string;
  /** The required positional argument, if the command takes one. */
  argument?: ArgumentSpec;
  /** Several required positional arguments, in order (instead of `argument`). */
  arguments?: readonly ArgumentSpec[];
  options: readonly OptionSpec[];
}

function argumentsOf(command: CommandSpec): readonly ArgumentSpec[] {
  return command.arguments ?? (command.argument ? [command.argument] : []);
}

/** The whole program. */
export interface ProgramSpec {
  name: string;
  description: string;
  version: string;
  commands: readonly CommandSpec[];
}

/** Parsed option values, keyed by the camelCased long name (`--dry-run` is `dryRun`). */
export class OptionValues {
  constructor(private readonly values: ReadonlyMap<string, unknown>) {}
  /** A value option's string (undefined when absent without default). */
  string(key: string): string | undefined {
    return this.typed(key, "string") as string | undefined;
  }
  /** A value option's number (as produced by its parser or default). */
  number(key: string): number | undefined {
    return this.typed(key, "number") as number | undefined;
  }
  /** Whether a flag was given. */
  flag(key: string): boolean {
    return (this.typed(key, "boolean") as boolean | undefined) ?? false;
  }
  /** Every value of a repeatable option, in order. */
  list(key: string): string[] {
    const value = this.values.get(key) ?? [];
    if (!Array.isArray(value)) throw new TypeError(`option "${key}" is not repeatable`);
    return [...value] as string[];
  }
  private typed(key: string, type: string): unknown {
    const value = this.values.get(key);
    if (value !== undefined && typeof value !== type) throw new TypeError(`option "${key}" is not a ${type}`);
    return value;
  }
}

/** What a command line asks for. */
export type ParsedArgs =
  | { kind: "help"; text: string }
  | { kind: "version"; text: string }
  | {
    kind: "command";
    command: string;
    /** The first positional argument. */
    argument: string | undefined;
    /** Every positional argument. */
    arguments: string[];
    options: OptionValues;
  };

/** A bad command line: the message (without the `error:` prefix) and the help of the command concerned. */
export class UsageError extends Error {
  constructor(message: string, readonly help: string) {
    super(message);
    this.name = "UsageError";
  }
}

interface Parsed {
  spec: OptionSpec;
  short: string | undefined;
  long: string;
  key: string;
  takesValue: boolean;
}

function parseFlags(spec: OptionSpec): Parsed {
  const match = /^(?:(-[A-Za-z]), )?(--[a-z][a-z0-9-]*)(?: <[^>]+>)?$/.exec(spec.flags);
  if (!match) throw new Error(`bad option flags "${spec.flags}"`);
  const long = match[2]!;
  const key = long.slice(2).replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
  return { spec, short: match[1], long, key, takesValue: spec.flags.endsWith(">") };
}

const HELP: OptionSpec = { flags: "-h, --help", description: "show help" };
const VERSION: OptionSpec = { flags: "-V, --version", description: "print the version" };

function table(sections: [string, [string, string][]][]): string {
  const rows = sections.flatMap(([, r]) => r);
  const width = Math.max(...rows.map(([term]) => term.length)) + 2;
  return sections.filter(([, r]) => r.length > 0)
    .map(([title, r]) => `${title}:\n${r.map(([t, d]) => `  ${t.padEnd(width)}${d}`.trimEnd() + "\n").join("")}`)
    .join("\n");
}

function optionRow(spec: OptionSpec): [string, string] {
  const extra: string[] = [];
  if (spec.choices) extra.push(`(choices: ${spec.choices.map((c) => JSON.stringify(c)).join(", ")})`);
  if (spec.default !== undefined) extra.push(`(default: ${JSON.stringify(spec.default)})`);
  return [spec.flags, [spec.description, ...extra].join(" ")];
}

function commandTerm(command: CommandSpec): string {
  return `${command.name} [options]${argumentsOf(command).map((a) => ` <${a.name}>`).join("")}`;
}

/** The top-level help. */
export function programHelp(program: ProgramSpec): string {
  return `Usage: ${program.name} [options] [command]\n\n${program.description}\n\n` + table([
    ["Options", [optionRow(VERSION), optionRow(HELP)]],
    ["Commands", program.commands.map((c) => [commandTerm(c), c.description])],
  ]);
}

/** One command's help. */
export function commandHelp(program: ProgramSpec, command: CommandSpec): string {
  return `Usage: ${program.name} ${commandTerm(command)}\n\n${command.description}\n\n` + table([
    ["Arguments", argumentsOf(command).map((a): [string, string] => [a.name, a.description])],
    ["Options", [...command.options, HELP].map(optionRow)],
  ]);
}

function parseCommand(program: ProgramSpec, command: CommandSpec, args: readonly string[]): ParsedArgs {
  const help = commandHelp(program, command);
  const fail = (message: string): never => {
    throw new UsageError(message, help);
  };
  const options = command.options.map(parseFlags);
  const values = new Map<string, unknown>();
  for (const o of options) values.set(o.key, o.spec.repeatable ? [] : o.spec.default);
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (arg === "-h" || arg === "--help") return { kind: "help", text: help };
    if (!arg.startsWith("-") || arg === "-" || argumentsOf(command)[positionals.length]?.verbatim) {
      positionals.push(arg);
      continue;
    }
    const long = arg.startsWith("--");
    const name = long ? arg.split("=", 1)[0]! : arg.slice(0, 2);
    const option = options.find((o) => (long ? o.long : o.short) === name);
    if (!option) return fail(`unknown option '${arg}'`);
    let inline = long ? (arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : undefined) : arg.slice(2) || undefined;
    if (!option.takesValue) {
      if (inline !== undefined) fail(`option '${option.long}' does not take a value`);
      values.set(option.key, true);
      continue;
    }
    // Like commander: the next word is the value even when it starts with "-" (e.g. `-e --help`).
    if (inline === undefined) {
      if (i + 1 >= args.length) fail(`option '${option.spec.flags}' argument missing`);
      inline = args[++i]!;
    }
    const { choices, parse } = option.spec;
    const invalid = `option '${option.spec.flags}' argument '${inline}' is invalid.`;
    if (choices && !choices.includes(inline)) fail(`${invalid} Allowed choices are ${choices.join(", ")}.`);
    let value: unknown = inline;
    if (parse) {
      try {
        value = parse(inline);
      } catch (err) {
        fail(`${invalid} ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    values.set(option.key, option.spec.repeatable ? [...values.get(option.key) as unknown[], value] : value);
  }
  const specs = argumentsOf(command);
  const expected = specs.length;
  if (positionals.length < expected) fail(`missing required argument '${specs[positionals.length]?.name}'`);
  if (positionals.length > expected) {
    fail(
      `too many arguments for '${command.name}'. Expected ${expected} argument${expected === 1 ? "" : "s"} ` +
        `but got ${positionals.length}.`,
    );
  }
  return {
    kind: "command",
    command: command.name,
    argument: positionals[0],
    arguments: positionals,
    options: new OptionValues(values),
  };
}

/**
 * Parses a command line.
 *
 * @param program the declaration
 * @param args the arguments after the program name
 * @returns help or version text to print, or the command to run with its argument and options
 * @throws UsageError for unknown commands or options, missing or extra arguments and bad values
 */
export function parseArgs(program: ProgramSpec, args: readonly string[]): ParsedArgs {
  const help = programHelp(program);
  const first = args[0];
  if (first === undefined) throw new UsageError("missing command", help);
  if (first === "-h" || first === "--help") return { kind: "help", text: help };
  if (first === "-V" || first === "--version") return { kind: "version", text: `${program.version}\n` };
  if (first.startsWith("-")) throw new UsageError(`unknown option '${first}'`, help);
  const command = program.commands.find((c) => c.name === first) ??
    program.commands.find((c) => c.name === `${first} ${args[1] ?? ""}`);
  if (!command) {
    const group = program.commands.filter((c) => c.name.startsWith(`${first} `));
    if (group.length > 0) {
      const which = args[1] === undefined ? "missing subcommand" : `unknown subcommand '${args[1]}'`;
      throw new UsageError(`${which} for '${first}' (${group.map((c) => c.name).join(", ")})`, help);
    }
    throw new UsageError(`unknown command '${first}'`, help);
  }
  return parseCommand(program, command, args.slice(command.name.split(" ").length));
}
