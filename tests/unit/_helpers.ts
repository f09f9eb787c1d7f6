/**
 * Shared test fixtures: host tools, a static hello binary, the stub PVH kernel, captured CLI output.
 *
 * @module
 */

import { ensureHostTools } from "../../core/setup.ts";
import { etcFiles } from "../../plugins/etc.ts";
import type { CliIO } from "../../core/cli.ts";
import type { ConsoleIO } from "../../mod.ts";

/** The repository root, with a trailing slash. */
export const ROOT = new URL("../../", import.meta.url).pathname;

const cache = new Map<string, Promise<string>>();

function once(key: string, make: () => Promise<string>): Promise<string> {
  let found = cache.get(key);
  if (!found) {
    found = make();
    cache.set(key, found);
  }
  return found;
}

let fixtureDir: Promise<string> | undefined;

/** A temp directory shared by this test process's fixtures (left for the OS to clean). */
export function fixtures(): Promise<string> {
  fixtureDir ??= Deno.makeTempDir({ prefix: "osv-test-fixtures-" });
  return fixtureDir;
}

async function gcc(args: string[]): Promise<void> {
  await ensureHostTools(["gcc"]);
  const result = await new Deno.Command("gcc", { args, stderr: "piped" }).output();
  if (!result.success) throw new Error(`gcc ${args.join(" ")} failed:\n${new TextDecoder().decode(result.stderr)}`);
}

/** Compiles a C program from source text, returns the binary's path. */
export function compileC(name: string, source: string, flags: string[]): Promise<string> {
  return once(`c:${name}`, async () => {
    const dir = await fixtures();
    await Deno.writeTextFile(`${dir}/${name}.c`, source);
    await gcc([...flags, "-o", `${dir}/${name}`, `${dir}/${name}.c`]);
    return `${dir}/${name}`;
  });
}

const HELLO = `#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n`;

/** A statically linked hello world. */
export const staticHello = () => compileC("hello", HELLO, ["-static", "-O1"]);

/** A dynamically linked hello world. */
export const dynamicHello = () => compileC("hello-dyn", HELLO, ["-O1"]);

/** The stub PVH kernel of tests/fixtures/stub_kernel.S (echoes its cmdline, reports exit 42). */
export function stubKernel(): Promise<string> {
  return once("stub", async () => {
    const out = `${await fixtures()}/stub_kernel.elf`;
    await gcc([
      "-nostdlib",
      "-static",
      "-no-pie",
      "-Wl,-Ttext=0x100000",
      "-Wl,--build-id=none",
      "-o",
      out,
      `${ROOT}tests/fixtures/stub_kernel.S`,
    ]);
    return out;
  });
}

/** How many files `osv:etc` adds to every image on this host (the copied ones only where the host has them). */
export function generatedEtcFiles(): number {
  const hostHas = (path: string): number => {
    try {
      return Deno.statSync(path).isFile ? 1 : 0; // follows links, as osv:etc does
    } catch {
      return 0; // not on this host
    }
  };
  const copied = ["/etc/localtime", "/etc/services", "/etc/protocols"].map(hostHas);
  return etcFiles("osv", undefined).size + copied.reduce((a, b) => a + b, 0);
}

/** Captured CLI output. */
export interface Captured extends CliIO {
  out: string;
  err: string;
}

/** Removes the work directory `osv run --dry-run` keeps (its control channel's directory; the kernel is in the boot cache). */
export async function removeDryRunFiles(out: string): Promise<void> {
  const control = /path=(\S+)\/control\b/.exec(out)?.[1];
  if (control?.includes("/osv-run-")) await Deno.remove(control, { recursive: true });
}

/** A CliIO that records what is written. */
export function captureIO(): Captured {
  const io: Captured = {
    out: "",
    err: "",
    isTerminal: false,
    stdout: (text) => void (io.out += text),
    stderr: (text) => void (io.err += text),
  };
  return io;
}

/** A ConsoleIO collecting the guest's output as text. */
export function captureConsole(): ConsoleIO & { text(): { out: string; err: string } } {
  const chunks = { out: [] as Uint8Array[], err: [] as Uint8Array[] };
  const sink = (into: Uint8Array[]) => new WritableStream<Uint8Array>({ write: (c) => void into.push(c.slice()) });
  const decode = (parts: Uint8Array[]) => new TextDecoder().decode(concat(parts));
  return {
    stdout: sink(chunks.out),
    stderr: sink(chunks.err),
    text: () => ({ out: decode(chunks.out), err: decode(chunks.err) }),
  };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Runs a host command, returns stdout (throws with stderr on failure). */
export async function sh(command: string, args: string[], options: { cwd?: string; stdin?: Uint8Array } = {}) {
  const child = new Deno.Command(command, {
    args,
    stdin: options.stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
    ...(options.cwd ? { cwd: options.cwd } : {}),
  }).spawn();
  if (options.stdin) {
    const writer = child.stdin.getWriter();
    await writer.write(options.stdin);
    await writer.close();
  }
  const result = await child.output();
  const decoder = new TextDecoder();
  if (!result.success) throw new Error(`${command} ${args.join(" ")} failed:\n${decoder.decode(result.stderr)}`);
  return { stdout: decoder.decode(result.stdout), stderr: decoder.decode(result.stderr) };
}

/** Collects a stream into one array. */
export async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const chunk of stream) parts.push(chunk);
  return concat(parts);
}

/** Runs `fn` with environment variables set, restoring them afterwards. */
export async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, Deno.env.get(k)]));
  for (const [k, v] of Object.entries(vars)) Deno.env.set(k, v);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
  }
}
