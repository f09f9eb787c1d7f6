/**
 * Networking test helpers: boots the kernel in QEMU directly with a virtio-net NIC on QEMU's user-mode
 * network, restricted so that the guest reaches nothing but the port forwards from 127.0.0.1 (kernel
 * tests: net_http_test.ts, net_tap_test.ts), and follows a guest's console (also `osv run`'s, in
 * net_cli_test.ts).
 *
 * @module
 */

import { buildKernel } from "../../kernel/build.ts";
import { KVM_CPU, qemuBinary, TCG_CPU } from "../../hypervisors/_qemu_common.ts";
import { MICROVM_OPTIONS } from "../../hypervisors/qemu_microvm.ts";
import { probeKvm, PVM_SAFE_OPTION } from "../../core/host.ts";
import { ROOT, run, work } from "./_harness.ts";

/** A cpio "newc" archive holding one executable file at `/path`. */
export function cpioWith(path: string, data: Uint8Array): Uint8Array {
  const chunks: Uint8Array[] = [];
  const hex = (n: number) => n.toString(16).padStart(8, "0");
  const pad4 = (n: number) => new Uint8Array((4 - (n % 4)) % 4);
  const entry = (name: string, mode: number, body: Uint8Array) => {
    const nameBytes = new TextEncoder().encode(name + "\0");
    const fields = [1, mode, 0, 0, 1, 0, body.length, 0, 0, 0, 0, nameBytes.length, 0];
    const header = new TextEncoder().encode("070701" + fields.map(hex).join(""));
    chunks.push(header, nameBytes, pad4(header.length + nameBytes.length), body, pad4(body.length));
  };
  entry(path, 0o100755, data);
  entry("TRAILER!!!", 0, new Uint8Array(0));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** The QEMU machines the NIC is tested on. */
export const NET_MACHINES = {
  "pc, virtio-net-pci": { machine: "pc", nic: ["-device", "virtio-net-pci,netdev=n0"] },
  "microvm, legacy virtio-mmio": {
    machine: `microvm,${MICROVM_OPTIONS}`,
    nic: ["-device", "virtio-net-device,netdev=n0"],
  },
  "microvm, modern virtio-mmio": {
    machine: `microvm,${MICROVM_OPTIONS}`,
    nic: ["-global", "virtio-mmio.force-legacy=false", "-device", "virtio-net-device,netdev=n0"],
  },
} as const;

/** Options of {@linkcode bootWithNetwork}. */
export interface NetBootOptions {
  accel: "tcg" | "kvm";
  machine: string;
  nic: readonly string[];
  program: string;
  /** Kernel command line after the options the helper adds (program path and arguments). */
  cmdline: string;
  /** tcp:HOST-PORT:GUEST-PORT forwards from 127.0.0.1 (user-mode network). */
  forwards?: { host: number; guest: number }[];
  /** Instead of the user-mode network: a tap device, QEMU running inside this network namespace. */
  tap?: { namespace: string; device: string };
}

/** A running guest: its console so far, a way to wait for a line, and its end. */
export interface NetGuest {
  output(): string;
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /** The process's exit code (QEMU's: the app's status s gives (s << 1) | 1; `osv run`'s: the app's). */
  status: Promise<number>;
  kill(): void;
}

/** The QEMU arguments of the user-mode network with port forwards (what `osv run` must add). */
export function userNetworkArgs(forwards: { host: number; guest: number }[]): string[] {
  const fwd = forwards.map((f) => `,hostfwd=tcp:127.0.0.1:${f.host}-:${f.guest}`).join("");
  return ["-netdev", `user,id=n0,restrict=on${fwd}`];
}

/** Boots the kernel with `program` at /app and a NIC on QEMU's user-mode network. */
export async function bootWithNetwork(options: NetBootOptions): Promise<NetGuest> {
  const kernel = await buildKernel();
  const dir = await work();
  const initrd = `${dir}/net-${crypto.randomUUID().slice(0, 8)}.cpio`;
  await Deno.writeFile(initrd, cpioWith("app", await Deno.readFile(options.program)));
  const pvm = options.accel === "kvm" && probeKvm().pvm ? `${PVM_SAFE_OPTION} ` : "";
  const network = options.tap
    ? ["-netdev", `tap,id=n0,ifname=${options.tap.device},script=no,downscript=no`]
    : userNetworkArgs(options.forwards ?? []);
  const qemu = options.tap ? "ip" : qemuBinary();
  const prefix = options.tap ? ["netns", "exec", options.tap.namespace, qemuBinary()] : [];
  const child = new Deno.Command(qemu, {
    args: [
      ...prefix,
      "-machine",
      `${options.machine},accel=${options.accel}`,
      "-cpu",
      options.accel === "kvm" ? KVM_CPU : TCG_CPU,
      "-nodefaults",
      "-no-user-config",
      "-display",
      "none",
      "-no-reboot",
      "-m",
      "128",
      "-kernel",
      kernel.path,
      "-initrd",
      initrd,
      "-append",
      `${pvm}${options.cmdline}`,
      "-serial",
      "stdio",
      "-device",
      "isa-debug-exit,iobase=0xf4,iosize=4",
      ...network,
      ...options.nic,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  return watchGuest(child, {
    stop: "SIGKILL",
    onEnd: () => Deno.remove(initrd).catch(() => {}),
  });
}

/** Starts `osv run ARGS` in the background (inside `namespace` when given), following its console. */
export function startOsv(args: string[], options: { namespace?: string; env?: Record<string, string> } = {}): NetGuest {
  const osvArgs = ["run", "-A", "--quiet", `${ROOT}main.ts`, "run", ...args];
  const [command, commandArgs] = options.namespace
    ? ["ip", ["netns", "exec", options.namespace, Deno.execPath(), ...osvArgs]]
    : [Deno.execPath(), osvArgs];
  const child = new Deno.Command(command, {
    args: commandArgs,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    ...(options.env ? { env: options.env } : {}),
  }).spawn();
  // SIGTERM: osv stops QEMU and deletes the taps it made.
  return watchGuest(child, { stop: "SIGTERM" });
}

/**
 * Follows a spawned guest: its stdout as it comes (waitFor), its stderr appended once it ended.
 *
 * @param child the process, with stdout and stderr piped
 * @param options `stop`: the signal kill() sends (SIGTERM lets `osv run` stop QEMU and delete its taps);
 *   `onEnd`: cleanup once it ended
 * @returns the guest
 */
export function watchGuest(
  child: Deno.ChildProcess,
  options: { stop: Deno.Signal; onEnd?: () => Promise<void> },
): NetGuest {
  let text = "";
  const waiters: (() => void)[] = [];
  const decoder = new TextDecoder();
  const pump = (async () => {
    for await (const chunk of child.stdout) {
      text += decoder.decode(chunk, { stream: true });
      waiters.splice(0).forEach((wake) => wake());
    }
  })();
  const stderr = new Response(child.stderr).text();
  const status = (async () => {
    const { code } = await child.status;
    await pump;
    text += await stderr;
    waiters.splice(0).forEach((wake) => wake());
    await options.onEnd?.();
    return code;
  })();
  let ended = false;
  status.then(() => ended = true);
  return {
    output: () => text,
    status,
    kill: () => {
      try {
        child.kill(options.stop);
      } catch {
        // Already gone.
      }
    },
    async waitFor(pattern, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = text.match(pattern);
        if (match) return match;
        if (ended || Date.now() > deadline) {
          throw new Error(`${pattern} did not appear within ${timeoutMs} ms; console:\n${text}`);
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 200);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
  };
}

/** Runs `ip` with args; its output, or throws with its error. */
export async function ip(...args: string[]): Promise<string> {
  const r = await run("ip", args);
  if (r.code !== 0) throw new Error(`ip ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}

/**
 * Runs fn with a network namespace of its own holding an up tap device `tap0` at 192.168.77.1/24 (a guest
 * attached to it can reach nothing outside the namespace); deletes the namespace afterwards. Root only.
 *
 * @param fn gets the namespace's name
 * @returns what fn returned
 */
export async function withTapNamespace<T>(fn: (namespace: string) => Promise<T>): Promise<T> {
  const ns = `osvtest-${crypto.randomUUID().slice(0, 8)}`;
  await ip("netns", "add", ns);
  try {
    await ip("-n", ns, "link", "set", "lo", "up");
    await ip("-n", ns, "tuntap", "add", "dev", "tap0", "mode", "tap");
    await ip("-n", ns, "addr", "add", "192.168.77.1/24", "dev", "tap0");
    await ip("-n", ns, "link", "set", "tap0", "up");
    return await fn(ns);
  } finally {
    await ip("netns", "del", ns);
  }
}

/** The length of a block of net_bulk's stream (tests/guest/net_bulk.c) whose bytes repeat, but for the
 * block number mixed into each. */
const STREAM_BLOCK = 1 << 21;
let streamBase: Uint8Array | undefined;

/** Bytes [at, at + length) of net_bulk's stream: byte i is ((i * 2654435761 mod 2^32) >> 13) ^ (i >> 21),
 * low 8 bits. */
export function streamBytes(at: number, length: number): Uint8Array {
  if (!streamBase) {
    streamBase = new Uint8Array(STREAM_BLOCK);
    for (let i = 0; i < STREAM_BLOCK; i++) streamBase[i] = Math.imul(i, 0x9e3779b1) >>> 13;
  }
  const out = new Uint8Array(length);
  for (let done = 0; done < length;) {
    const i = at + done;
    const offset = i % STREAM_BLOCK;
    const block = Math.floor(i / STREAM_BLOCK) & 0xff;
    const step = Math.min(length - done, STREAM_BLOCK - offset);
    for (let k = 0; k < step; k++) out[done + k] = streamBase[offset + k]! ^ block;
    done += step;
  }
  return out;
}

/** FNV-1a (32 bits) of data, continuing from h. */
export function fnv1a(data: Uint8Array, h = 0x811c9dc5): number {
  for (let i = 0; i < data.length; i++) h = Math.imul(h ^ data[i]!, 16777619) >>> 0;
  return h;
}

/** What one transfer to or from `net_bulk serve` did. */
export interface BulkTransfer {
  bytes: number;
  /** The checksum of what arrived (at the guest for put, at the host for get), as 8 hex digits. */
  checksum: string;
  /** The checksum the stream should have. */
  expected: string;
  ms: number;
}

const CHUNK = 1 << 20;

/** Options of {@linkcode bulkPut} and {@linkcode bulkGet}. */
export interface BulkOptions {
  /** false: only time the transfer (put sends the stream's first MiB over and over, which the guest's
   * checksum then does not match; get does not check what came), so that the host's own hashing does
   * not limit the rate. Default true. */
  verify?: boolean;
}

/**
 * Sends `bytes` of the stream to `net_bulk serve` on 127.0.0.1:`port` ("put"), which answers with the
 * length and checksum it received.
 */
export async function bulkPut(port: number, bytes: number, options: BulkOptions = {}): Promise<BulkTransfer> {
  const verify = options.verify ?? true;
  const first = verify ? undefined : streamBytes(0, CHUNK);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const start = performance.now();
    await writeAll(conn, new TextEncoder().encode(`put ${bytes}\n`));
    let h = 0x811c9dc5;
    for (let at = 0; at < bytes; at += CHUNK) {
      const length = Math.min(CHUNK, bytes - at);
      const chunk = first ? first.subarray(0, length) : streamBytes(at, length);
      if (verify) h = fnv1a(chunk, h);
      await writeAll(conn, chunk);
    }
    const answer = (await readText(conn)).trim().split(" ");
    return { bytes: Number(answer[0]), checksum: answer[1] ?? "", expected: hex(h), ms: performance.now() - start };
  } finally {
    conn.close();
  }
}

/** Asks `net_bulk serve` on 127.0.0.1:`port` for `bytes` of the stream ("get") and checks them as they come. */
export async function bulkGet(port: number, bytes: number, options: BulkOptions = {}): Promise<BulkTransfer> {
  const verify = options.verify ?? true;
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const start = performance.now();
    await writeAll(conn, new TextEncoder().encode(`get ${bytes}\n`));
    let got = 0, h = 0x811c9dc5, want = 0x811c9dc5;
    const buf = new Uint8Array(CHUNK);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      if (verify) {
        h = fnv1a(buf.subarray(0, n), h);
        want = fnv1a(streamBytes(got, Math.min(n, Math.max(0, bytes - got))), want);
      }
      got += n;
    }
    return { bytes: got, checksum: hex(h), expected: hex(want), ms: performance.now() - start };
  } finally {
    conn.close();
  }
}

/** Asks `net_bulk serve` on 127.0.0.1:`port` to exit. */
export async function bulkQuit(port: number): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await writeAll(conn, new TextEncoder().encode("quit\n"));
  await readText(conn);
  conn.close();
}

function hex(h: number): string {
  return h.toString(16).padStart(8, "0");
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  for (let done = 0; done < data.length;) done += await conn.write(data.subarray(done));
}

/** What the peer sends until it closes, as text. */
async function readText(conn: Deno.Conn): Promise<string> {
  const decoder = new TextDecoder();
  const buf = new Uint8Array(4096);
  let text = "";
  for (let n; (n = await conn.read(buf)) !== null;) text += decoder.decode(buf.subarray(0, n), { stream: true });
  return text;
}
