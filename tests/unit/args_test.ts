import { assert, assertEquals, assertStringIncludes, assertThrows } from "./_assert.ts";
import { commandHelp, parseArgs, type ProgramSpec, UsageError } from "../../core/args.ts";
import { parseMemoryMiB } from "../../core/units.ts";

const PROGRAM: ProgramSpec = {
  name: "tool",
  description: "a test tool",
  version: "1.2.3",
  commands: [
    {
      name: "go",
      description: "go somewhere",
      argument: { name: "where", description: "the destination" },
      options: [
        { flags: "-o, --output <file>", description: "output" },
        { flags: "-m, --memory <size>", description: "memory", parse: parseMemoryMiB, default: 64 },
        { flags: "--mode <name>", description: "mode", default: "fast" },
        { flags: "--accel <accel>", description: "accelerator", choices: ["kvm", "tcg"] },
        { flags: "--dry-run", description: "do nothing" },
        { flags: "--plugin <path>", description: "a plugin", repeatable: true },
      ],
    },
    { name: "list", description: "list things", options: [{ flags: "--json", description: "JSON" }] },
  ],
};

function command(args: string[]) {
  const parsed = parseArgs(PROGRAM, args);
  if (parsed.kind !== "command") throw new Error(`expected a command, got ${parsed.kind}`);
  return parsed;
}

function usageError(args: string[]): UsageError {
  return assertThrows(() => parseArgs(PROGRAM, args), UsageError);
}

Deno.test("parseArgs() applies defaults and reads long, short, --opt=value and attached short values", () => {
  const defaults = command(["go", "home"]);
  assertEquals(defaults.command, "go");
  assertEquals(defaults.argument, "home");
  assertEquals(defaults.options.number("memory"), 64);
  assertEquals(defaults.options.string("mode"), "fast");
  assertEquals(defaults.options.string("output"), undefined);
  assertEquals(defaults.options.flag("dryRun"), false);
  assertEquals(defaults.options.list("plugin"), []);

  const given = command(["go", "-o", "a.img", "--memory=1G", "home", "--mode", "slow", "--dry-run", "--accel=tcg"]);
  assertEquals(given.argument, "home");
  assertEquals(given.options.string("output"), "a.img");
  assertEquals(given.options.number("memory"), 1024);
  assertEquals(given.options.string("mode"), "slow");
  assertEquals(given.options.string("accel"), "tcg");
  assertEquals(given.options.flag("dryRun"), true);
  assertEquals(command(["go", "-m16M", "x"]).options.number("memory"), 16);
});

Deno.test("repeatable options collect in order; others keep the last value", () => {
  const parsed = command(["go", "--plugin", "a", "x", "--plugin=b", "--mode", "1", "--mode", "2"]);
  assertEquals(parsed.options.list("plugin"), ["a", "b"]);
  assertEquals(parsed.options.string("mode"), "2");
});

Deno.test("a value option takes the next word even when it starts with a dash; -- ends the options", () => {
  assertEquals(command(["go", "-o", "--help", "x"]).options.string("output"), "--help");
  assertEquals(command(["go", "--", "-x"]).argument, "-x");
});

Deno.test("help and version", () => {
  const top = parseArgs(PROGRAM, ["--help"]);
  assert(top.kind === "help");
  assertStringIncludes(top.text, "Usage: tool [options] [command]");
  assertStringIncludes(top.text, "  go [options] <where>  go somewhere\n");
  assertEquals(parseArgs(PROGRAM, ["-V"]), { kind: "version", text: "1.2.3\n" });
  const go = parseArgs(PROGRAM, ["go", "x", "-h"]);
  assert(go.kind === "help");
  assertEquals(go.text, commandHelp(PROGRAM, PROGRAM.commands[0]!));
  assertEquals(
    go.text,
    `Usage: tool go [options] <where>

go somewhere

Arguments:
  where                the destination

Options:
  -o, --output <file>  output
  -m, --memory <size>  memory (default: 64)
  --mode <name>        mode (default: "fast")
  --accel <accel>      accelerator (choices: "kvm", "tcg")
  --dry-run            do nothing
  --plugin <path>      a plugin
  -h, --help           show help
`,
  );
});

Deno.test("bad command lines are UsageErrors carrying the help of the command concerned", () => {
  const cases: [string[], string][] = [
    [[], "missing command"],
    [["fly"], "unknown command 'fly'"],
    [["--bogus"], "unknown option '--bogus'"],
    [["go", "--bogus", "x"], "unknown option '--bogus'"],
    [["go", "-z", "x"], "unknown option '-z'"],
    [["go"], "missing required argument 'where'"],
    [["go", "a", "b"], "too many arguments for 'go'. Expected 1 argument but got 2."],
    [["list", "a"], "too many arguments for 'list'. Expected 0 arguments but got 1."],
    [["go", "x", "-o"], "option '-o, --output <file>' argument missing"],
    [["go", "x", "--dry-run=yes"], "option '--dry-run' does not take a value"],
    [
      ["go", "x", "--accel", "hvf"],
      "option '--accel <accel>' argument 'hvf' is invalid. Allowed choices are kvm, tcg.",
    ],
    [["go", "x", "-m", "12X"], `argument '12X' is invalid. "12X" is not a memory size (examples: 64, 16M, 1G)`],
  ];
  for (const [args, message] of cases) {
    const err = usageError(args);
    assertStringIncludes(err.message, message);
    assertStringIncludes(err.help, args[0] === "go" || args[0] === "list" ? `Usage: tool ${args[0]}` : "Usage: tool [");
  }
});
