/**
 * `deno task bench`: times osv against QEMU's own floor and the host, per accelerator (tcg, kvm) and
 * machine type (microvm, pc), prints a table and writes JSON (design.md §7).
 *
 * ```
 * deno run -A bench/main.ts [--runs N] [--accel tcg,kvm] [--only python,futex] [--json] [--out FILE]
 * ```
 *
 * `--only` runs some groups of rows (SECTIONS): `boot`, `read64`, `syscall`, `dhcp`, `http`, `tcp` (TCP
 * throughput each way through a port forward), `run` (osv run wall, the QEMU floor, osv's QEMU command run
 * directly and `deno run` of an empty script, sampled in turn, and the differences that split osv run - floor
 * into guest and CLI), `mem`, `build` (image build throughput), `python` (python3
 * hello: time to its first print, smallest `-m`) and `futex` (wake latency); the host's hello is always run.
 * The JSON then holds only those rows: give `--out` to keep the full bench/results.json.
 *
 * Runs are sequential (no QEMU runs in parallel with a timed one). A cell takes up to `--runs` samples but
 * stops after BUDGET_MS once it has MIN_RUNS, so slow configurations (KVM on a nested host) do not blow the
 * time budget; the JSON records each cell's sample count. A failing configuration is recorded as an error
 * cell, not a crash.
 *
 * @module
 */

import { probeKvm } from "../core/host.ts";
import { DEFAULT_HOST_PACKAGES, ensureHostTools } from "../core/setup.ts";
import { buildKernel } from "../kernel/build.ts";
import { stubKernel } from "../tests/unit/_helpers.ts";
import { BIG_FILE, BIG_FILE_BYTES } from "../tests/e2e/_tree.ts";
import { readRate, throughput, writeMixedTree } from "./_disk.ts";
import { dhcpPhaseMs, httpCells, tcpThroughputCells } from "./_net.ts";
import {
  type Cell,
  failureText,
  floorCommand,
  lastBootPhaseMs,
  measure,
  measureInTurn,
  pairedDifference,
  type Repeat,
  shellWords,
  smallestPassing,
  spawnTimed,
  spawnUntilOutput,
} from "./_measure.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const DEFAULT_RUNS = 20;
const BUDGET_MS = 15_000;
const MIN_RUNS = 3;
/** Memory range bisected for the smallest `-m` (MiB). */
const MEM_RANGE = [1, 64] as const;
const EXPECTED = "Hello from osv!";
/** Memory range bisected for the smallest `-m` that runs python3 hello (MiB). */
const PYTHON_MEM_RANGE = [8, 512] as const;
/** The interpreter `osv build --runtime python` puts into the image by default; the host's baseline. */
const PYTHON_HOST = "/usr/bin/python3";
const PYTHON_HELLO = 'print("hello from python3")\n';
const PYTHON_EXPECTED = "hello from python3";
/** The groups of rows `--only` can pick. */
const SECTIONS = [
  "boot",
  "read64",
  "syscall",
  "dhcp",
  "http",
  "tcp",
  "run",
  "mem",
  "build",
  "python",
  "futex",
] as const;
/** MiB moved each way per TCP throughput run: kvm_pvm emulates kernel code (~0.3 MB/s through the
 * user-mode network), so it moves less. */
const TCP_MIB = { tcg: 256, kvm: 4 } as const;
const MACHINES = [{ hypervisor: "qemu-microvm", label: "microvm" }, { hypervisor: "qemu", label: "pc" }] as const;

type Accel = "tcg" | "kvm";

type Section = typeof SECTIONS[number];

interface Options {
  runs: number;
  accels: Accel[];
  /** The sections to run; all when empty. */
  only: Section[];
  json: boolean;
  out: string;
}

/** Row of the results: one metric, one cell per accelerator. */
interface Row {
  id: string;
  label: string;
  unit: "ms" | "MiB" | "MiB/s" | "ns" | "req/s" | "count";
  cells: Partial<Record<Accel, Cell>>;
}

interface Results {
  date: string;
  host: { cpus: number; kvm: string; kvmPvm: boolean; qemu: string };
  options: { runs: number; budgetMs: number; minRuns: number; accels: Accel[]; only: Section[] };
  sizes: { kernelElf: number | string; helloImage: number; helloBinary: number };
  hostHello: Cell;
  /** getppid round trip on the host (ns). */
  hostSyscall?: Cell;
  /** The HTTP server on the host under wrk -c 100: requests/s and p99 latency (ms). */
  hostHttp?: { rps: Cell; p99: Cell; errors: number };
  /** net_bulk on the host's loopback: MiB/s from the client to the server (up) and back (down). */
  hostTcp?: { up: Cell; down: Cell };
  /** Reading the 64 MiB file on the host (MiB/s). */
  hostRead64?: Cell;
  /** Host-side figures of issue 3: building images of a 200 MiB tree. */
  disk?: { treeBytes: number; osvBuildRaw: Cell; osvBuildQcow2: Cell; qemuImgConvertQcow2: Cell };
  /** The host's python3 running hello: spawn to its first print (ms). */
  hostPython?: Cell;
  /** futex_pingpong on the host: one round trip (ns). */
  hostFutex?: Cell;
  rows: Row[];
}

function parseArgs(args: string[]): Options {
  const options: Options = { runs: DEFAULT_RUNS, accels: [], only: [], json: false, out: `${ROOT}bench/results.json` };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const value = () => args[++i] ?? fail(`${arg} needs a value`);
    if (arg === "--json") options.json = true;
    else if (arg === "--runs") options.runs = Number(value());
    else if (arg === "--out") options.out = value();
    else if (arg === "--accel") {
      options.accels = value().split(",").map((a) => a === "tcg" || a === "kvm" ? a : fail(`unknown accel "${a}"`));
    } else if (arg === "--only") {
      options.only = value().split(",").map((name) =>
        (SECTIONS as readonly string[]).includes(name) ? name as Section : fail(
          `unknown section "${name}" (one of ${SECTIONS.join(", ")})`,
        )
      );
    } else fail(`unknown argument "${arg}" (use --runs N, --accel tcg,kvm, --only SECTIONS, --json, --out FILE)`);
  }
  if (!Number.isInteger(options.runs) || options.runs < 1) fail("--runs needs a positive integer");
  if (options.accels.length === 0) options.accels = probeKvm().usable ? ["tcg", "kvm"] : ["tcg"];
  return options;
}

function fail(message: string): never {
  throw new Error(`bench: ${message}`);
}

function progress(line: string): void {
  console.error(`bench: ${line}`);
}

/** Runs the osv CLI from the sources, as a user would. */
function osv(args: string[], timeoutMs?: number) {
  return spawnTimed(Deno.execPath(), ["run", "-A", "--quiet", `${ROOT}main.ts`, ...args], timeoutMs);
}

function helloOk(run: { code: number; stdout: string }): boolean {
  return run.code === 0 && run.stdout.includes(EXPECTED);
}

/** Compiles a C source (relative to the repository) statically into dir; the binary's path. */
async function compileStatic(dir: string, source: string): Promise<string> {
  const binary = `${dir}/${source.slice(source.lastIndexOf("/") + 1, -2)}`;
  const gcc = await spawnTimed("gcc", ["-static", "-O2", "-o", binary, `${ROOT}${source}`]);
  if (gcc.code !== 0) fail(`gcc failed: ${failureText(gcc)}`);
  return binary;
}

/** `osv build BINARY -o IMAGE ...extra`; the image's path. */
async function buildImage(binary: string, image: string, extra: string[] = []): Promise<string> {
  const build = await osv(["build", binary, ...extra, "-o", image]);
  if (build.code !== 0) fail(`osv build failed: ${failureText(build)}`);
  return image;
}

/** Compiles examples/hello statically and builds its rofs and ramfs images. */
async function prepareHello(dir: string): Promise<{ binary: string; image: string; ramfsImage: string }> {
  const binary = await compileStatic(dir, "examples/hello/hello.c");
  return {
    binary,
    image: await buildImage(binary, `${dir}/hello.img`, ["--fs", "rofs"]),
    ramfsImage: await buildImage(binary, `${dir}/hello-ramfs.img`, ["--fs", "ramfs"]),
  };
}

/** Builds treehash and an image holding the test tree's 64 MiB file; the binary, image and host file. */
async function prepareRead64(dir: string): Promise<{ binary: string; image: string; file: string }> {
  const binary = await compileStatic(dir, "tests/guest/treehash.c");
  const file = `${dir}/big.bin`;
  const data = new Uint8Array(BIG_FILE_BYTES);
  crypto.getRandomValues(data.subarray(0, 65536));
  for (let at = 65536; at < data.length; at *= 2) data.copyWithin(at, 0, Math.min(at, data.length - at));
  await Deno.writeFile(file, data);
  const image = await buildImage(binary, `${dir}/read64.img`, ["--add", `${file}:/${BIG_FILE}`]);
  return { binary, image, file };
}

/** Compiles a benchmark program of bench/guest and builds its image; the binary and the image. */
/** The command that serves from osv on microvm: `osv run IMAGE --forward FORWARD -e CMDLINE`. */
function serverInOsv(image: string, accel: Accel, forward: string, cmdline: string) {
  const args = [
    "run",
    "-A",
    "--quiet",
    `${ROOT}main.ts`,
    "run",
    image,
    "--accel",
    accel,
    "--hypervisor",
    "qemu-microvm",
  ];
  return { command: Deno.execPath(), args: [...args, "--forward", forward, "-e", cmdline] };
}

async function prepareGuest(dir: string, name: string): Promise<{ binary: string; image: string }> {
  const binary = await compileStatic(dir, `bench/guest/${name}.c`);
  return { binary, image: await buildImage(binary, `${dir}/${name}.img`) };
}

/**
 * The DHCP phase (ms) of booting hello on the user-mode network. `osv run` gives such a NIC its fixed
 * address on the command line, so the kernel's DHCP client is timed on osv's command without those options.
 */
async function dhcpPhase(image: string, accel: Accel, hypervisor: string, dir: string) {
  const args = ["run", image, "--accel", accel, "--hypervisor", hypervisor, "-e", "--bootchart /hello"];
  const words = await dryRunWords(args);
  const at = words.indexOf("-append") + 1;
  if (at === 0) throw new Error("osv run --dry-run gave no -append");
  words[at] = words[at]!.split(" ").filter((w) => !/^--(ip|defaultgw|nameserver)=/.test(w)).join(" ");
  const direct = floorCommand(words, null, `${dir}/dhcp-control`);
  return {
    sample: async () => {
      const run = await spawnTimed(direct.command, direct.args, 60_000);
      const ms = dhcpPhaseMs(run.stdout);
      // hello's status 0 through isa-debug-exit: QEMU exits with (0 << 1) | 1.
      if (run.code !== 1 || !run.stdout.includes(EXPECTED) || ms === null) throw new Error(failureText(run));
      return ms;
    },
    cleanup: () => removeDryRunDir(direct),
  };
}

/** ns per getppid from syscall_loop's output. */
function syscallNs(stdout: string): number | null {
  const m = /getppid ([\d.]+) ns per call/.exec(stdout);
  return m ? Number(m[1]) : null;
}

/** Mean getppid round trip (ns) in the guest; fewer calls under kvm_pvm, where each costs ~0.2 ms. */
function guestSyscall(image: string, accel: Accel, hypervisor: string) {
  return async () => {
    const calls = accel === "kvm" ? 2000 : 100000;
    const run = await osv([
      "run",
      image,
      "--no-net",
      "--accel",
      accel,
      "--hypervisor",
      hypervisor,
      "-e",
      `/syscall_loop ${calls}`,
    ]);
    const ns = syscallNs(run.stdout);
    if (run.code !== 0 || ns === null) throw new Error(failureText(run));
    return ns;
  };
}

/** Read rate (MiB/s) of the 64 MiB file in the guest. */
function guestRead64(image: string, accel: Accel, hypervisor: string) {
  return async () => {
    const run = await osv([
      "run",
      image,
      "--no-net",
      "--accel",
      accel,
      "--hypervisor",
      hypervisor,
      "-e",
      `/treehash --read '/${BIG_FILE}'`,
    ], 600_000);
    const rate = readRate(run.stdout);
    if (run.code !== 0 || rate === null) throw new Error(failureText(run));
    return rate;
  };
}

/** Build throughput of osv (raw and qcow2) and qemu-img convert (raw -> qcow2) on a 200 MiB tree. */
async function diskThroughput(dir: string, hello: string, repeat: Repeat): Promise<NonNullable<Results["disk"]>> {
  const tree = `${dir}/mixed`;
  const { bytes } = await writeMixedTree(tree);
  const few: Repeat = { ...repeat, runs: Math.min(repeat.runs, 5) };
  const main = `${ROOT}main.ts`;
  const osvBuild = (format: string) => () => ({
    command: Deno.execPath(),
    args: [
      "run",
      "-A",
      "--quiet",
      main,
      "build",
      hello,
      "--add",
      `${tree}:/data`,
      "--format",
      format,
      "-o",
      `${dir}/t.${format}`,
    ],
  });
  const osvBuildRaw = await throughput(bytes, osvBuild("raw"), few);
  const osvBuildQcow2 = await throughput(
    bytes,
    osvBuild("qcow2"),
    few,
    () => Deno.remove(`${dir}/t.qcow2`).catch(() => {}),
  );
  const qemuImgConvertQcow2 = await throughput(
    bytes,
    () => ({
      command: "qemu-img",
      args: ["convert", "-f", "raw", "-O", "qcow2", `${dir}/t.raw`, `${dir}/q.qcow2`],
    }),
    few,
    () => Deno.remove(`${dir}/q.qcow2`).catch(() => {}),
  );
  return { treeBytes: bytes, osvBuildRaw, osvBuildQcow2, qemuImgConvertQcow2 };
}

async function kernelElfSize(): Promise<number | string> {
  try {
    return (await buildKernel({ features: ["fs/ramfs"] })).size;
  } catch (err) {
    return `error: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** Boot to app main (ms) from the kernel's `--bootchart`. */
function bootToMain(image: string, accel: Accel, hypervisor: string) {
  return async () => {
    const run = await osv([
      "run",
      image,
      "--no-net",
      "--accel",
      accel,
      "--hypervisor",
      hypervisor,
      "-e",
      "--bootchart /hello",
    ]);
    const ms = lastBootPhaseMs(run.stdout);
    if (!helloOk(run) || ms === null) throw new Error(failureText(run));
    return ms;
  };
}

/** Wall time (ms) of `osv run` for hello, Deno start-up included. */
function osvRunWall(image: string, accel: Accel, hypervisor: string) {
  return async () => {
    const run = await osv(["run", image, "--no-net", "--accel", accel, "--hypervisor", hypervisor]);
    if (!helloOk(run)) throw new Error(failureText(run));
    return run.ms;
  };
}

/** Wall time (ms) of `deno run` on an empty script: the start-up every `osv` command pays before its own work. */
function denoStartup(script: string) {
  return async () => {
    await Deno.writeTextFile(script, "");
    const run = await spawnTimed(Deno.execPath(), ["run", "-A", "--quiet", script]);
    if (run.code !== 0) throw new Error(`deno run: ${failureText(run)}`);
    return run.ms;
  };
}

/** The QEMU command `osv ARGS --dry-run` prints, split into words. */
async function dryRunWords(args: string[]): Promise<string[]> {
  const dry = await osv([...args, "--dry-run"]);
  const line = dry.stdout.trim().split("\n").at(-1) ?? "";
  if (dry.code !== 0 || !line) throw new Error(`osv run --dry-run: ${failureText(dry)}`);
  return shellWords(line);
}

/** Removes the work directory a dry run left for a command run without osv. */
async function removeDryRunDir(command: { dryRunDir: string | null }): Promise<void> {
  if (command.dryRunDir) await Deno.remove(command.dryRunDir, { recursive: true }).catch(() => {});
}

/**
 * The QEMU commands of `osv run` for hello, run without osv: `floor` on the stub kernel that exits at
 * once, `direct` on osv's own kernel and image (QEMU started as osv starts it). `cleanup` removes what the
 * dry run left.
 */
async function directCommands(image: string, accel: Accel, hypervisor: string, stub: string, dir: string) {
  const words = await dryRunWords(["run", image, "--no-net", "--accel", accel, "--hypervisor", hypervisor]);
  const floor = floorCommand(words, stub, `${dir}/floor-control`);
  const direct = floorCommand(words, null, `${dir}/direct-control`);
  return {
    floor: async () => {
      const run = await spawnTimed(floor.command, floor.args, 60_000);
      // The stub reports status 21 through isa-debug-exit: QEMU exits with (21 << 1) | 1.
      if (run.code !== 43) throw new Error(`QEMU floor: ${failureText(run)}`);
      return run.ms;
    },
    direct: async () => {
      const run = await spawnTimed(direct.command, direct.args, 60_000);
      // hello's status 0 through isa-debug-exit: QEMU exits with (0 << 1) | 1.
      if (run.code !== 1 || !run.stdout.includes(EXPECTED)) throw new Error(`QEMU direct: ${failureText(run)}`);
      return run.ms;
    },
    cleanup: () => removeDryRunDir(direct),
  };
}

/** What {@linkcode smallestMemory} boots: an image, the range of `-m` to bisect, and what a good run prints. */
interface MemoryProbe {
  /** The row's id. */
  id: string;
  image: string;
  range: readonly [number, number];
  ok: (run: { code: number; stdout: string }) => boolean;
  name: string;
}

/** Smallest `-m` (MiB) at which a program still runs correctly; a hung guest counts as a failure. */
async function smallestMemory(probe: MemoryProbe, accel: Accel, hypervisor: string): Promise<Cell> {
  try {
    let tries = 0;
    const ok = async (mib: number) => {
      tries++;
      // `timeout` signals its whole process group, so a hung QEMU below the CLI dies too.
      const args = ["-k", "5", "120", Deno.execPath(), "run", "-A", "--quiet", `${ROOT}main.ts`, "run", probe.image];
      const run = await spawnTimed("timeout", [
        ...args,
        "--no-net",
        "--accel",
        accel,
        "--hypervisor",
        hypervisor,
        "-m",
        `${mib}`,
      ], 180_000);
      return probe.ok(run);
    };
    const [lo, hi] = probe.range;
    const found = await smallestPassing(lo, hi, ok);
    return found === null ? { error: `${probe.name} fails even with -m ${hi}` } : { value: found, n: tries };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

function pythonOk(run: { code: number; stdout: string }): boolean {
  return run.code === 0 && run.stdout.includes(PYTHON_EXPECTED);
}

/** Writes python3 hello and builds its image with `osv build --runtime python`; the script and the image. */
async function preparePython(dir: string): Promise<{ script: string; image: string }> {
  const script = `${dir}/hello.py`;
  await Deno.writeTextFile(script, PYTHON_HELLO);
  return { script, image: await buildImage(script, `${dir}/python.img`, ["--runtime", "python"]) };
}

/** Milliseconds from spawning a command to python3 hello's first print. */
function toFirstPrint(command: string, args: string[]) {
  return async () => {
    const run = await spawnUntilOutput(command, args, PYTHON_EXPECTED, 300_000);
    if (!pythonOk(run) || run.markMs === null) throw new Error(failureText(run));
    return run.markMs;
  };
}

/** ns per futex round trip from futex_pingpong's output. */
function futexNs(stdout: string): number | null {
  const m = /futex ([\d.]+) ns per round trip/.exec(stdout);
  return m ? Number(m[1]) : null;
}

/** Mean futex round trip (ns) in the guest; fewer rounds under kvm_pvm, where each syscall is emulated. */
function guestFutex(image: string, accel: Accel, hypervisor: string) {
  return async () => {
    const rounds = accel === "kvm" ? 1000 : 20000;
    const run = await osv(
      ["run", image, "--no-net", "--accel", accel, "--hypervisor", hypervisor, "-e", `/futex_pingpong ${rounds}`],
      300_000,
    );
    const ns = futexNs(run.stdout);
    if (run.code !== 0 || ns === null) throw new Error(failureText(run));
    return ns;
  };
}

/** One sample of a benchmark program on the host: the figure `parse` finds in its output. */
function onHost(binary: string, args: string[], parse: (stdout: string) => number | null) {
  return async () => {
    const run = await spawnTimed(binary, args);
    const value = parse(run.stdout);
    if (run.code !== 0 || value === null) throw new Error(failureText(run));
    return value;
  };
}

/** Row `a` minus row `b`, per accelerator: the median of the per-round differences when both were sampled in turn. */
function difference(a: Row, b: Row, accels: Accel[]): Row["cells"] {
  const cells: Row["cells"] = {};
  for (const accel of accels) {
    const x = a.cells[accel];
    const y = b.cells[accel];
    if (!x || !y) continue;
    cells[accel] = "error" in x || "error" in y
      ? { error: `needs both "${a.label}" and "${b.label}"` }
      : pairedDifference(x, y);
  }
  return cells;
}

async function collect(options: Options): Promise<Results> {
  const dir = await Deno.makeTempDir({ prefix: "osv-bench-" });
  const want = (section: Section) => options.only.length === 0 || options.only.includes(section);
  try {
    const repeat: Repeat = { runs: options.runs, budgetMs: BUDGET_MS, minRuns: MIN_RUNS };
    await ensureHostTools([...DEFAULT_HOST_PACKAGES, ...want("http") ? ["wrk"] : []], { log: progress });
    progress("building hello, its image, the kernel and the stub kernel");
    const hello = await prepareHello(dir);
    const read64 = want("read64") ? await prepareRead64(dir) : undefined;
    const syscallLoop = want("syscall") ? await prepareGuest(dir, "syscall_loop") : undefined;
    const httpServer = want("http") ? await prepareGuest(dir, "http_bench_server") : undefined;
    const bulkBinary = want("tcp") ? await compileStatic(dir, "tests/guest/net_bulk.c") : undefined;
    const bulkServer = bulkBinary
      ? { binary: bulkBinary, image: await buildImage(bulkBinary, `${dir}/net_bulk.img`) }
      : undefined;
    const futex = want("futex") ? await prepareGuest(dir, "futex_pingpong") : undefined;
    const python = want("python") ? await preparePython(dir) : undefined;
    const kernelElf = await kernelElfSize();
    const stub = want("run") ? await stubKernel() : undefined;

    progress("host baseline");
    const hostHello = await measure(async () => {
      const run = await spawnTimed(hello.binary, []);
      if (!helloOk(run)) throw new Error(failureText(run));
      return run.ms;
    }, repeat);
    const host: Pick<
      Results,
      "hostRead64" | "hostSyscall" | "hostHttp" | "hostTcp" | "disk" | "hostPython" | "hostFutex"
    > = {};

    if (read64) {
      progress("host: reading the 64 MiB file");
      host.hostRead64 = await measure(onHost(read64.binary, ["--read", read64.file], readRate), repeat);
    }
    if (syscallLoop) {
      progress("host: getppid round trip");
      host.hostSyscall = await measure(onHost(syscallLoop.binary, ["100000"], syscallNs), repeat);
    }
    if (httpServer) {
      progress("host: HTTP server under wrk -c 100");
      host.hostHttp = await httpCells(
        (port) => ({ command: httpServer.binary, args: [String(port)] }),
        5,
        { ...repeat, runs: Math.min(repeat.runs, 3) },
      );
    }
    if (want("build")) {
      progress("host: building images of a 200 MiB tree, and qemu-img convert");
      host.disk = await diskThroughput(dir, hello.binary, repeat);
    }
    if (bulkServer) {
      progress(`host: TCP throughput over loopback, ${TCP_MIB.tcg} MiB each way`);
      host.hostTcp = await tcpThroughputCells(
        (port) => ({ command: bulkServer.binary, args: ["serve", String(port)] }),
        TCP_MIB.tcg,
        { ...repeat, runs: Math.min(repeat.runs, 3) },
      );
    }
    if (python) {
      progress("host: python3 hello to its first print");
      host.hostPython = await measure(toFirstPrint(PYTHON_HOST, [python.script]), repeat);
    }
    if (futex) {
      progress("host: futex round trip");
      host.hostFutex = await measure(onHost(futex.binary, ["20000"], futexNs), repeat);
    }

    const memoryProbes: MemoryProbe[] = [];
    if (want("mem")) {
      memoryProbes.push({ id: "mem.microvm", image: hello.image, range: MEM_RANGE, ok: helloOk, name: "hello" });
    }
    if (python) {
      const range = PYTHON_MEM_RANGE;
      memoryProbes.push({ id: "mem.python.microvm", image: python.image, range, ok: pythonOk, name: "python3 hello" });
    }

    const rows = new Map<string, Row>();
    const put = (id: string, label: string, unit: Row["unit"], accel: Accel, cell: Cell) => {
      const row = rows.get(id) ?? { id, label, unit, cells: {} };
      row.cells[accel] = cell;
      rows.set(id, row);
    };
    for (const accel of options.accels) {
      for (const { hypervisor, label } of MACHINES) {
        if (want("boot")) {
          progress(`${accel} ${label}: boot to app main`);
          put(
            `boot.${label}`,
            `boot to app main, ${label}, rofs`,
            "ms",
            accel,
            await measure(bootToMain(hello.image, accel, hypervisor), repeat),
          );
          progress(`${accel} ${label}: boot to app main, ramfs`);
          put(
            `boot.${label}.ramfs`,
            `boot to app main, ${label}, ramfs`,
            "ms",
            accel,
            await measure(bootToMain(hello.ramfsImage, accel, hypervisor), repeat),
          );
        }
        if (read64) {
          progress(`${accel} ${label}: read 64 MiB in the guest (rofs)`);
          put(
            `read64.${label}`,
            `read 64 MiB file in guest, ${label}`,
            "MiB/s",
            accel,
            await measure(guestRead64(read64.image, accel, hypervisor), { ...repeat, runs: Math.min(repeat.runs, 5) }),
          );
        }
        if (stub) {
          progress(`${accel} ${label}: osv run wall, QEMU floor and QEMU direct, in turn`);
          const cells = await directCommands(hello.image, accel, hypervisor, stub, dir).then(
            async (commands) => {
              try {
                const run = osvRunWall(hello.image, accel, hypervisor);
                const deno = denoStartup(`${dir}/empty.ts`);
                return await measureInTurn({ run, floor: commands.floor, direct: commands.direct, deno }, repeat);
              } finally {
                await commands.cleanup();
              }
            },
            (err: Error) => {
              const error = { error: err.message };
              return { run: error, floor: error, direct: error, deno: error };
            },
          );
          put(`run.${label}`, `osv run wall, ${label}`, "ms", accel, cells.run);
          put(`floor.${label}`, `QEMU floor, ${label}`, "ms", accel, cells.floor);
          put(`direct.${label}`, `QEMU direct (osv's command, no osv), ${label}`, "ms", accel, cells.direct);
          put(`deno.${label}`, `deno run, empty script (in turn with ${label})`, "ms", accel, cells.deno);
        }
      }
      if (syscallLoop) {
        progress(`${accel} microvm: getppid round trip`);
        put(
          "syscall.microvm",
          "getppid round trip, microvm",
          "ns",
          accel,
          await measure(guestSyscall(syscallLoop.image, accel, "qemu-microvm"), {
            ...repeat,
            runs: Math.min(repeat.runs, 5),
          }),
        );
      }
      if (futex) {
        progress(`${accel} microvm: futex round trip`);
        put(
          "futex.microvm",
          "futex wake round trip (2 threads), microvm",
          "ns",
          accel,
          await measure(guestFutex(futex.image, accel, "qemu-microvm"), { ...repeat, runs: Math.min(repeat.runs, 5) }),
        );
      }
      if (want("dhcp")) {
        progress(`${accel} microvm: DHCP at boot`);
        const cell = await dhcpPhase(hello.image, accel, "qemu-microvm", dir).then(
          async ({ sample, cleanup }) => {
            try {
              return await measure(sample, repeat);
            } finally {
              await cleanup();
            }
          },
          (err: Error) => ({ error: err.message }),
        );
        put("dhcp.microvm", "DHCP lease at boot (QEMU direct, no static address), microvm", "ms", accel, cell);
      }
      if (httpServer) {
        progress(`${accel} microvm: HTTP under wrk -c 100`);
        const guestHttp = await httpCells(
          (port) => serverInOsv(httpServer.image, accel, `tcp:${port}:8080`, "/http_bench_server 8080"),
          5,
          { ...repeat, runs: Math.min(repeat.runs, 3) },
        );
        put("http.rps.microvm", "HTTP requests/s (wrk -c 100), microvm", "req/s", accel, guestHttp.rps);
        put("http.p99.microvm", "HTTP p99 latency (wrk -c 100), microvm", "ms", accel, guestHttp.p99);
        put("http.errors.microvm", "wrk socket errors (all runs), microvm", "count", accel, {
          value: guestHttp.errors,
          n: 1,
        });
      }
      if (bulkServer) {
        progress(`${accel} microvm: TCP throughput through a port forward, ${TCP_MIB[accel]} MiB each way`);
        const guestTcp = await tcpThroughputCells(
          (port) => serverInOsv(bulkServer.image, accel, `tcp:${port}:9000`, "/net_bulk serve 9000"),
          TCP_MIB[accel],
          { ...repeat, runs: Math.min(repeat.runs, 3) },
        );
        put("tcp.up.microvm", "TCP host -> guest (port forward), microvm", "MiB/s", accel, guestTcp.up);
        put("tcp.down.microvm", "TCP guest -> host (port forward), microvm", "MiB/s", accel, guestTcp.down);
      }
      if (python) {
        progress(`${accel} microvm: python3 hello to its first print`);
        put(
          "python.first.microvm",
          "python3 hello, osv run to first print, microvm",
          "ms",
          accel,
          await measure(
            toFirstPrint(Deno.execPath(), [
              "run",
              "-A",
              "--quiet",
              `${ROOT}main.ts`,
              "run",
              python.image,
              "--no-net",
              "--accel",
              accel,
              "--hypervisor",
              "qemu-microvm",
            ]),
            { ...repeat, runs: Math.min(repeat.runs, 5) },
          ),
        );
      }
      for (const probe of memoryProbes) {
        progress(`${accel} microvm: smallest -m for ${probe.name}`);
        put(
          probe.id,
          `smallest -m for ${probe.name}, microvm`,
          "MiB",
          accel,
          await smallestMemory(probe, accel, "qemu-microvm"),
        );
      }
    }
    for (const { label } of MACHINES) {
      const run = rows.get(`run.${label}`);
      const floor = rows.get(`floor.${label}`);
      const direct = rows.get(`direct.${label}`);
      if (!run || !floor || !direct) continue;
      const derived: [string, string, Row, Row][] = [
        ["overhead", `osv run - floor, ${label}`, run, floor],
        ["guest", `  of which guest (direct - floor), ${label}`, direct, floor],
        ["cli", `  of which osv CLI (run - direct), ${label}`, run, direct],
      ];
      for (const [kind, rowLabel, x, y] of derived) {
        const id = `${kind}.${label}`;
        rows.set(id, { id, label: rowLabel, unit: "ms", cells: difference(x, y, options.accels) });
      }
    }
    const order = [
      "boot",
      "read64",
      "syscall",
      "futex",
      "dhcp",
      "http",
      "tcp",
      "python",
      "run",
      "floor",
      "direct",
      "deno",
      "overhead",
      "guest",
      "cli",
      "mem",
    ];
    const sorted = [...rows.values()].sort((a, b) =>
      order.indexOf(a.id.split(".")[0]!) - order.indexOf(b.id.split(".")[0]!)
    );

    const kvm = probeKvm();
    const qemu = await spawnTimed("qemu-system-x86_64", ["--version"]).catch(() => null);
    return {
      date: new Date().toISOString(),
      host: {
        cpus: navigator.hardwareConcurrency,
        kvm: kvm.usable ? "usable" : kvm.reason ?? "not usable",
        kvmPvm: kvm.pvm,
        qemu: qemu?.stdout.split("\n")[0] ?? "unknown",
      },
      options: {
        runs: options.runs,
        budgetMs: BUDGET_MS,
        minRuns: MIN_RUNS,
        accels: options.accels,
        only: options.only,
      },
      sizes: {
        kernelElf,
        helloImage: (await Deno.stat(hello.image)).size,
        helloBinary: (await Deno.stat(hello.binary)).size,
      },
      hostHello,
      ...host,
      rows: sorted,
    };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

function formatCell(cell: Cell | undefined, unit: Row["unit"], notes: string[]): string {
  if (!cell) return "-";
  if ("error" in cell) {
    notes.push(cell.error);
    return `error [${notes.length}]`;
  }
  if (unit === "count") return String(cell.value);
  const value = unit === "MiB" ? String(cell.value) : cell.value.toFixed(Math.abs(cell.value) < 10 ? 2 : 1);
  return unit === "MiB" ? `${value} MiB` : `${value} ${unit} (n=${cell.n})`;
}

/** The host's figures that were measured (`--only` may have skipped some). */
function hostLines(results: Results, notes: string[]): string[] {
  const { hostRead64, hostSyscall, hostHttp, hostTcp, disk, hostPython, hostFutex } = results;
  const lines: string[] = [];
  if (hostRead64) lines.push(`host read of 64 MiB        ${formatCell(hostRead64, "MiB/s", notes)}`);
  if (hostSyscall) lines.push(`host getppid round trip    ${formatCell(hostSyscall, "ns", notes)}`);
  if (hostFutex) lines.push(`host futex round trip      ${formatCell(hostFutex, "ns", notes)}`);
  if (hostPython) lines.push(`host python3 first print   ${formatCell(hostPython, "ms", notes)}`);
  if (hostHttp) {
    lines.push(
      `host HTTP (wrk -c 100)     ${formatCell(hostHttp.rps, "req/s", notes)}, p99 ${
        formatCell(hostHttp.p99, "ms", notes)
      }, ${hostHttp.errors} socket errors`,
    );
  }
  if (hostTcp) {
    lines.push(
      `host TCP loopback          up ${formatCell(hostTcp.up, "MiB/s", notes)}, down ${
        formatCell(hostTcp.down, "MiB/s", notes)
      }`,
    );
  }
  if (disk) {
    lines.push(
      `build, ${disk.treeBytes >> 20} MiB tree       osv raw ${formatCell(disk.osvBuildRaw, "MiB/s", notes)}, ` +
        `osv qcow2 ${formatCell(disk.osvBuildQcow2, "MiB/s", notes)}, ` +
        `qemu-img convert raw->qcow2 ${formatCell(disk.qemuImgConvertQcow2, "MiB/s", notes)}`,
    );
  }
  return lines;
}

function table(results: Results, out: string): string {
  const { accels } = results.options;
  const notes: string[] = [];
  const lines = [
    ["metric", ...accels],
    ...results.rows.map((row) => [row.label, ...accels.map((a) => formatCell(row.cells[a], row.unit, notes))]),
  ];
  const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  const render = (l: string[]) => l.map((c, i) => c.padEnd(widths[i]!)).join("   ").trimEnd();
  const { host, sizes, options } = results;
  return [
    `osv bench: ${host.cpus} CPUs, KVM ${host.kvm}${host.kvmPvm ? " (kvm_pvm)" : ""}, ${host.qemu}`,
    `median of up to ${options.runs} runs per cell (fewer once a cell has spent ${options.budgetMs / 1000} s, ` +
    `but at least ${Math.min(options.minRuns, options.runs)})`,
    "",
    render(lines[0]!),
    ...lines.slice(1).map(render),
    "",
    `host hello (baseline)      ${formatCell(results.hostHello, "ms", notes)}`,
    `kernel ELF                 ${typeof sizes.kernelElf === "number" ? `${sizes.kernelElf} bytes` : sizes.kernelElf}`,
    `hello image                ${sizes.helloImage} bytes (static hello ${sizes.helloBinary} bytes)`,
    ...hostLines(results, notes),
    ...notes.map((n, i) => `[${i + 1}] ${n}`),
    "",
    `JSON: ${out}`,
  ].join("\n");
}

async function main(): Promise<void> {
  const options = parseArgs(Deno.args);
  const results = await collect(options);
  const json = JSON.stringify(results, null, 2);
  await Deno.writeTextFile(options.out, json + "\n");
  console.log(options.json ? json : table(results, options.out));
}

if (import.meta.main) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : String(err));
    Deno.exit(1);
  });
}
