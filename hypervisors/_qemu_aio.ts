/**
 * QEMU's disk I/O mode (`-drive ...,aio=`) for the image the kernel boots from. QEMU's default thread pool
 * makes the first virtio-blk request wait for a worker thread to start (measured: ~3.5M TSC ticks against
 * ~0.25M with io_uring), so osv asks for `aio=io_uring` where this QEMU binary and host kernel support it:
 * QEMU may be built without it, and io_uring may be disabled by `kernel.io_uring_disabled` or a container's
 * seccomp profile. A QEMU that boots no guest probes that once (~40 ms); the answer is cached in
 * `qemu-aio.json` in the osv cache directory, keyed by the binary and the host kernel, so later runs pay
 * nothing. `$OSV_QEMU_AIO` overrides the probe.
 *
 * Used by hypervisors/_qemu_common.ts: `qemuAvailable()` settles the mode before the command is built
 * (so `--dry-run` prints the final command), `diskArgs()` appends it.
 *
 * @module
 */

import { osvCacheDir } from "../core/cachedir.ts";
import { findExecutable } from "../core/host.ts";

/** QEMU's `aio=` modes: `threads` is QEMU's default; `native` (Linux AIO) needs O_DIRECT. */
export type QemuAio = "io_uring" | "threads" | "native";

/** The modes `$OSV_QEMU_AIO` takes. */
export const QEMU_AIO_MODES: readonly QemuAio[] = ["io_uring", "threads", "native"];

/** Environment variable forcing the mode instead of the probe. */
export const QEMU_AIO_ENV = "OSV_QEMU_AIO";

/** File in the osv cache directory holding probe results. */
export const AIO_CACHE_FILE = "qemu-aio.json";

/** How long the probe may take; a QEMU that takes longer is not waited for (and not cached). */
export const AIO_PROBE_TIMEOUT_MS = 5000;

/** Entries kept in the cache file (one per QEMU binary and host kernel seen). */
const MAX_CACHE_ENTRIES = 16;

/**
 * Reads `$OSV_QEMU_AIO`.
 *
 * @param value the variable's value
 * @returns the mode, or `null` when unset or empty (then the probe decides)
 * @throws RangeError naming the values it takes
 * @example
 * ```ts
 * import { parseAioOverride } from "./_qemu_aio.ts";
 * if (parseAioOverride("threads") !== "threads" || parseAioOverride(undefined) !== null) throw new Error();
 * ```
 */
export function parseAioOverride(value: string | undefined): QemuAio | null {
  if (value === undefined || value === "") return null;
  if ((QEMU_AIO_MODES as readonly string[]).includes(value)) return value as QemuAio;
  throw new RangeError(`$${QEMU_AIO_ENV} is "${value}": expected io_uring, threads or native (or unset to probe)`);
}

/** Escapes a value inside a QEMU option list (a comma is written twice). */
function optionValue(value: string): string {
  return value.replaceAll(",", ",,");
}

/**
 * The probe: QEMU without a machine opens `file` with `aio=io_uring`, which sets up an io_uring ring and
 * fails at start when it cannot; QMP on stdin then tells it to quit.
 *
 * @param file an existing file
 * @returns QEMU's arguments
 */
export function aioProbeArgs(file: string): string[] {
  return [
    "-machine",
    "none",
    "-nodefaults",
    "-no-user-config",
    "-display",
    "none",
    "-blockdev",
    `driver=file,filename=${optionValue(file)},node-name=probe,aio=io_uring,read-only=on`,
    "-qmp",
    "stdio",
  ];
}

/** QMP commands the probe sends: a QMP session must negotiate before it may quit. */
export const AIO_PROBE_INPUT = '{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n';

/** How a probe run ended. */
export interface ProbeOutcome {
  /** Exit code, `null` when killed. */
  code: number | null;
  stdout: string;
  stderr: string;
  /** Killed after {@linkcode AIO_PROBE_TIMEOUT_MS}. */
  timedOut: boolean;
}

/** What a probe says. */
export interface AioProbe {
  /** The mode to use. */
  aio: "io_uring" | "threads";
  /** Why not io_uring (QEMU's message), `null` when io_uring works. */
  reason: string | null;
  /** Whether the answer holds for this binary and kernel (a timeout or a crash may not recur). */
  cacheable: boolean;
}

/**
 * Reads a probe's outcome: io_uring when QEMU started (QMP answered) and quit cleanly; threads when it
 * refused `aio=io_uring` (it then names io_uring in its message); threads, not cached, for anything else.
 *
 * @param outcome how the probe ended
 * @returns the mode
 */
export function interpretAioProbe(outcome: ProbeOutcome): AioProbe {
  const message = outcome.stderr.trim().split("\n").at(-1)?.trim() ?? "";
  if (outcome.timedOut) {
    return { aio: "threads", reason: `QEMU did not answer within ${AIO_PROBE_TIMEOUT_MS} ms`, cacheable: false };
  }
  if (outcome.code === 0 && outcome.stdout.includes('"return"')) {
    return { aio: "io_uring", reason: null, cacheable: true };
  }
  if (/io_uring/i.test(outcome.stderr)) return { aio: "threads", reason: message, cacheable: true };
  return {
    aio: "threads",
    reason: message || `QEMU exited with ${outcome.code === null ? "a signal" : `status ${outcome.code}`}`,
    cacheable: false,
  };
}

/** What the cache key depends on besides the binary. */
export interface AioHost {
  /** The host kernel's release (`uname -r`). */
  release: string;
  /** `/proc/sys/kernel/io_uring_disabled` (0 allows all, 1 privileged only, 2 none), `null` when missing. */
  ioUringDisabled: string | null;
}

/** This host's kernel release and io_uring sysctl. */
export function aioHost(): AioHost {
  let ioUringDisabled: string | null = null;
  try {
    ioUringDisabled = Deno.readTextFileSync("/proc/sys/kernel/io_uring_disabled").trim();
  } catch {
    // Older kernels have no such switch.
  }
  return { release: Deno.osRelease(), ioUringDisabled };
}

/**
 * The cache key of a QEMU binary on a host: its real path, size and modification time (a QEMU upgrade
 * changes them), the kernel release and the io_uring sysctl.
 *
 * @param binary path of the QEMU binary
 * @param host the host kernel
 * @returns the key
 * @throws Deno.errors.NotFound when the binary is missing
 */
export function aioCacheKey(binary: string, host: AioHost): string {
  const path = Deno.realPathSync(binary);
  const stat = Deno.statSync(path);
  return [path, stat.size, stat.mtime?.getTime() ?? 0, host.release, `io_uring_disabled=${host.ioUringDisabled ?? "-"}`]
    .join(":");
}

/** Runs a QEMU binary with arguments and input (tests replace it). */
export type ProbeRunner = (binary: string, args: string[], input: string) => Promise<ProbeOutcome>;

/** Runs QEMU, killing it after {@linkcode AIO_PROBE_TIMEOUT_MS}. */
export async function runProbe(binary: string, args: string[], input: string): Promise<ProbeOutcome> {
  const child = new Deno.Command(binary, { args, stdin: "piped", stdout: "piped", stderr: "piped" }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }, AIO_PROBE_TIMEOUT_MS);
  try {
    const writer = child.stdin.getWriter();
    // QEMU that refuses its options exits before reading: a broken pipe here is its answer, not an error.
    await writer.write(new TextEncoder().encode(input)).catch(() => {});
    await writer.close().catch(() => {});
    const out = await child.output();
    const decoder = new TextDecoder();
    return {
      code: out.signal === null ? out.code : null,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
      timedOut,
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Where {@linkcode probeQemuAio} looks. */
export interface AioProbeOptions {
  /** Cache directory (default {@linkcode osvCacheDir}). */
  cacheDir?: string;
  /** The host kernel (default {@linkcode aioHost}). */
  host?: AioHost;
  /** Runs the probe (default {@linkcode runProbe}). */
  run?: ProbeRunner;
}

/** A probe's answer and whether it came from the cache. */
export interface AioChoice {
  aio: "io_uring" | "threads";
  /** Why not io_uring, when probed now (`null` from the cache or when io_uring works). */
  reason: string | null;
  cached: boolean;
}

function readCache(file: string): Record<string, string> {
  try {
    const data: unknown = JSON.parse(Deno.readTextFileSync(file));
    if (data !== null && typeof data === "object" && !Array.isArray(data)) return data as Record<string, string>;
  } catch {
    // Missing or unreadable: probe again.
  }
  return {};
}

function writeCache(file: string, dir: string, entries: Record<string, string>): void {
  try {
    Deno.mkdirSync(dir, { recursive: true });
    // Written aside and renamed, so a concurrent `osv run` reads the old or the new file, never half of one.
    const temp = `${file}.${Deno.pid}.tmp`;
    Deno.writeTextFileSync(temp, JSON.stringify(entries));
    Deno.renameSync(temp, file);
  } catch {
    // A read-only cache only costs the probe again next time.
  }
}

/**
 * Whether a QEMU binary can use `aio=io_uring` on this host: from the cache when its key matches, else
 * by running the probe (and caching a definite answer).
 *
 * @param binary path of the QEMU binary
 * @param options cache directory, host, probe runner
 * @returns the mode and whether it came from the cache
 * @throws Deno.errors.NotFound when the binary is missing
 */
export async function probeQemuAio(binary: string, options: AioProbeOptions = {}): Promise<AioChoice> {
  const dir = options.cacheDir ?? osvCacheDir();
  const file = `${dir}/${AIO_CACHE_FILE}`;
  const key = aioCacheKey(binary, options.host ?? aioHost());
  const entries = readCache(file);
  const known = entries[key];
  if (known === "io_uring" || known === "threads") return { aio: known, reason: null, cached: true };

  const probeFile = Deno.makeTempFileSync({ prefix: "osv-aio-probe-" });
  let probe: AioProbe;
  try {
    Deno.writeFileSync(probeFile, new Uint8Array(4096));
    try {
      probe = interpretAioProbe(await (options.run ?? runProbe)(binary, aioProbeArgs(probeFile), AIO_PROBE_INPUT));
    } catch (err) {
      probe = { aio: "threads", reason: err instanceof Error ? err.message : String(err), cacheable: false };
    }
  } finally {
    Deno.removeSync(probeFile);
  }
  if (probe.cacheable) {
    const fresh = readCache(file); // Another run may have added entries meanwhile.
    delete fresh[key];
    const kept = Object.entries(fresh).slice(-(MAX_CACHE_ENTRIES - 1));
    writeCache(file, dir, { ...Object.fromEntries(kept), [key]: probe.aio });
  }
  return { aio: probe.aio, reason: probe.reason, cached: false };
}

/** Modes settled by {@linkcode settleQemuAio}, by QEMU binary as `$OSV_QEMU` names it. */
const settled = new Map<string, QemuAio>();

/**
 * Decides the mode for a QEMU binary: `$OSV_QEMU_AIO`, else the (cached) probe. The result is kept for
 * {@linkcode qemuAio}, which builds the command line synchronously.
 *
 * @param binary the QEMU binary (name or path)
 * @param options as {@linkcode probeQemuAio}
 * @returns the mode
 * @throws RangeError for a bad `$OSV_QEMU_AIO`
 */
export async function settleQemuAio(binary: string, options: AioProbeOptions = {}): Promise<QemuAio> {
  const override = parseAioOverride(Deno.env.get(QEMU_AIO_ENV));
  if (override !== null) return override;
  const path = findExecutable(binary);
  const aio = path === null ? "threads" : (await probeQemuAio(path, options)).aio;
  settled.set(binary, aio);
  return aio;
}

/**
 * The mode for a QEMU binary's disks: `$OSV_QEMU_AIO`, else what {@linkcode settleQemuAio} found, else
 * `null` (QEMU's default) when nothing was settled, as for a command built without an availability check.
 *
 * @param binary the QEMU binary (name or path)
 * @returns the mode, or `null`
 * @throws RangeError for a bad `$OSV_QEMU_AIO`
 */
export function qemuAio(binary: string): QemuAio | null {
  return parseAioOverride(Deno.env.get(QEMU_AIO_ENV)) ?? settled.get(binary) ?? null;
}

/**
 * The `-drive` options of a mode: `threads` is QEMU's default and adds nothing; `native` needs
 * `cache.direct=on` (QEMU refuses it without O_DIRECT).
 *
 * @param aio the mode, or `null` for QEMU's default
 * @returns options to append, each with its leading comma
 */
export function aioDriveOptions(aio: QemuAio | null): string {
  if (aio === "io_uring") return ",aio=io_uring";
  if (aio === "native") return ",aio=native,cache.direct=on";
  return "";
}

/**
 * Whether QEMU's start-up error is about io_uring (the host lost it since the probe, or
 * `$OSV_QEMU_AIO=io_uring` was forced where it does not work).
 *
 * @param stderr what QEMU printed
 * @returns the line naming io_uring, or `null`
 */
export function ioUringFailure(stderr: string): string | null {
  return stderr.split("\n").find((line) => /io_uring/i.test(line))?.trim() ?? null;
}
