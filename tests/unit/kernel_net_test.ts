/**
 * The kernel's network stack on the host: kernel/net/ compiled for Linux together with the shim
 * (kernel/tests/net_shim.c), the fake interface (net_fake.c) and either the tests of kernel/tests/net_test.c (gcc) or the libFuzzer
 * target kernel/tests/net_fuzz.c (clang), under AddressSanitizer and UndefinedBehaviorSanitizer, so
 * that hostile frames that read out of bounds fail loudly.
 */

import assert from "node:assert/strict";
import { fixtures, ROOT } from "./_helpers.ts";
import { ensureHostTools } from "../../core/setup.ts";

const KERNEL = `${ROOT}kernel`;

async function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  const r = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder();
  return { code: r.code, out: text.decode(r.stdout) + text.decode(r.stderr) };
}

/**
 * Builds kernel/net/ with the shim, the fake interface and one driver file into a host program.
 *
 * @param compiler "gcc" or "clang"
 * @param options `sanitizers` for -fsanitize=, `driver` the file of kernel/tests/ with main or the fuzz target
 * @returns the program's path
 */
async function buildNetStack(
  compiler: "gcc" | "clang",
  options: { sanitizers: string; shimSanitizers: string; driver: string },
): Promise<string> {
  await ensureHostTools([compiler]);
  const dir = await fixtures();
  const name = options.driver.replace(/\.c$/, "");
  const common = ["-std=gnu11", "-O1", "-g", "-fno-sanitize-recover=undefined", "-fno-omit-frame-pointer"];
  const shim = await run(compiler, [
    ...common,
    `-fsanitize=${options.shimSanitizers}`,
    "-c",
    `${KERNEL}/tests/net_shim.c`,
    "-o",
    `${dir}/${name}_shim.o`,
  ]);
  assert.equal(shim.code, 0, shim.out);
  const sources = [...Deno.readDirSync(`${KERNEL}/net`)]
    .filter((e) => e.name.endsWith(".c"))
    .map((e) => `${KERNEL}/net/${e.name}`)
    .sort();
  const build = await run(compiler, [
    ...common,
    `-fsanitize=${options.sanitizers}`,
    "-nostdinc",
    "-fno-builtin",
    `-I${KERNEL}`,
    `-I${KERNEL}/include`,
    "-Wall",
    "-Wno-unused-parameter",
    "-Werror",
    "-o",
    `${dir}/${name}`,
    ...sources,
    `${KERNEL}/tests/net_fake.c`,
    `${KERNEL}/tests/${options.driver}`,
    `${dir}/${name}_shim.o`,
  ]);
  assert.equal(build.code, 0, build.out);
  return `${dir}/${name}`;
}

Deno.test("kernel TCP/IP input paths survive hostile frames and handle reordering, overlap and loss (host build, ASan+UBSan)", async () => {
  const program = await buildNetStack("gcc", {
    sanitizers: "address,undefined",
    shimSanitizers: "address,undefined",
    driver: "net_test.c",
  });
  const result = await run(program, []);
  assert.equal(result.code, 0, result.out);
  assert.match(result.out, /\d+ checks, 0 failed/);
});

// --- libFuzzer ---------------------------------------------------------------------------------------

/** One step of a net_fuzz.c script (see the comment at the top of that file for the format). */
function tcpStep(flags: number, seqDelta: number, ackDelta: number, data = ""): number[] {
  const bytes = [...new TextEncoder().encode(data)];
  return [
    2,
    flags,
    (seqDelta >> 8) & 0xff,
    seqDelta & 0xff,
    (ackDelta >> 8) & 0xff,
    ackDelta & 0xff,
    0xff,
    0xff,
    0,
    bytes.length >> 8,
    bytes.length & 0xff,
    ...bytes,
  ];
}

const ACK = 0x10, PSH = 0x08, FIN = 0x01, SYN = 0x02, OUTGOING = 0x40;
const app = (op: number, arg = 0) => [3, op, arg];
const time = (log2ns: number) => [4, log2ns];
const fragment = (id: number, offset8: number, moreAndProto: number, len: number) => [
  6,
  id,
  offset8,
  moreAndProto,
  0,
  len,
  ...new Array(len).fill(0x40 + id),
];

/** Seeds that walk the state machine: data in and out of order, both closes, an active open, fragments. */
const SEEDS: Record<string, number[]> = {
  "receive-out-of-order-then-fin": [
    ...tcpStep(ACK | PSH, 0, 0, "abc"),
    ...tcpStep(ACK, 6, 0, "ghi"),
    ...tcpStep(ACK, 1, 0, "bcdefgh"),
    ...app(0, 4),
    ...tcpStep(ACK | FIN, 0, 0),
    ...app(3),
    ...time(30),
  ],
  "send-close-time-wait": [
    ...app(1, 4),
    ...time(28),
    ...tcpStep(ACK, 0, 1025),
    ...app(3),
    ...tcpStep(ACK | FIN, 0, 1),
    ...time(33),
  ],
  "zero-window-probes": [
    ...tcpStep(ACK, 0, 0).map((b, i) => (i === 6 || i === 7 ? 0 : b)),
    ...app(1, 20),
    ...time(32),
    ...app(3),
    ...time(35),
  ],
  "active-open": [
    ...app(5),
    ...tcpStep(SYN | ACK | OUTGOING, 0, 0),
    ...app(0x81, 8),
    ...tcpStep(ACK | PSH | OUTGOING, 0, 0, "hello"),
    ...app(0x82, 1),
    ...tcpStep(ACK | FIN | OUTGOING, 0, 1),
  ],
  "fragments-and-udp": [
    ...fragment(7, 0, 0x81, 16), // UDP, more to come
    ...fragment(7, 2, 0x01, 8), // the end: reassembled
    ...fragment(8, 0, 0x80, 16), // TCP, overlapping the next
    ...fragment(8, 1, 0x00, 16),
    ...[5, 4, 0, 4, 0x64, 0x6e, 0x73, 0x21], // a datagram to port 53, then read
    ...app(0x41, 4), // the app sends one
    ...[7, 0x43, 3, 0, 0], // port unreachable for it
    ...app(0x40, 4),
    ...[7, 3, 4, 5, 0xdc], // fragmentation needed, for the TCP connection
  ],
};

Deno.test("kernel TCP/IP stack survives libFuzzer (frames and frame sequences on a live connection; clang, ASan+UBSan, leaks checked)", async () => {
  const program = await buildNetStack("clang", {
    sanitizers: "fuzzer,address,undefined",
    shimSanitizers: "fuzzer-no-link,address,undefined",
    driver: "net_fuzz.c",
  });
  const dir = await Deno.makeTempDir({ prefix: "osv-net-fuzz-" });
  try {
    await Deno.mkdir(`${dir}/corpus`);
    for (const [name, bytes] of Object.entries(SEEDS)) {
      await Deno.writeFile(`${dir}/corpus/${name}`, new Uint8Array(bytes));
    }
    const seconds = Deno.env.get("OSV_FUZZ_SECONDS") ?? "60";
    const result = await run(program, [
      `-max_total_time=${seconds}`,
      "-max_len=4096",
      "-print_final_stats=1",
      `-artifact_prefix=${dir}/`,
      `${dir}/corpus`,
    ]);
    // On a crash, libFuzzer prints the input (hex and base64) and the sanitizer's report: keep the tail.
    assert.equal(result.code, 0, result.out.slice(-6000));
    assert.match(result.out, /stat::number_of_executed_units: *[1-9]/);
    const stats = result.out.match(/stat::number_of_executed_units: *(\d+)[\s\S]*stat::average_exec_per_sec: *(\d+)/);
    const coverage = [...result.out.matchAll(/cov: (\d+) ft: (\d+)/g)].at(-1);
    console.log(
      `net_fuzz: ${stats?.[1]} runs, ${stats?.[2]} execs/s, coverage ${coverage?.[1]} edges, ${coverage?.[2]} features`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
