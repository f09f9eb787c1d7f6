/**
 * Network benchmarks (issue 5): HTTP requests per second and p99 latency with wrk (100 connections)
 * against the same epoll server (bench/guest/http_bench_server.c) in osv through a port forward and on
 * the host; TCP throughput each way between the host and `net_bulk serve` (tests/guest/net_bulk.c), in
 * osv through a port forward and on the host's loopback; the DHCP phase of boot.
 *
 * @module
 */

import { bulkGet, bulkPut } from "../tests/e2e/_net.ts";
import { type Cell, failureText, measure, type Repeat, spawnTimed } from "./_measure.ts";

/** What one wrk run measured. */
export interface WrkResult {
  requests: number;
  requestsPerSecond: number;
  p99Ms: number;
  /** Socket errors (connect, read, write, timeout) and non-2xx/3xx answers. */
  errors: number;
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Parses wrk's `--latency` report. */
export function parseWrk(text: string): WrkResult | null {
  const requests = /(\d+) requests in/.exec(text);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(text);
  const p99 = /^\s+99%\s+([\d.]+)(us|ms|s)\b/m.exec(text);
  if (!requests || !rps || !p99) return null;
  const scale = p99[2] === "us" ? 0.001 : p99[2] === "s" ? 1000 : 1;
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  const count = (errors ? errors.slice(1).reduce((a, b) => a + Number(b), 0) : 0) + (non2xx ? Number(non2xx[1]) : 0);
  return {
    requests: Number(requests[1]),
    requestsPerSecond: Number(rps[1]),
    p99Ms: Number(p99[1]) * scale,
    errors: count,
  };
}

/**
 * How long wrk waits for an answer before counting a timeout (its default is 2 s). QEMU's user-mode
 * network (libslirp) listens on a forwarded port with a backlog of 1, so when wrk opens 100 connections
 * at once the host kernel's accept queue for that port overflows: it drops handshake ACKs and resends
 * its SYN-ACK after 1 s, then 3 s (`nstat` TcpExtListenOverflows). The first request of such a
 * connection takes over 2 s without anything lost or late in osv; a longer limit shows it as latency.
 */
export const WRK_TIMEOUT_S = 30;

/** Runs wrk with 100 connections for `seconds` against `url`; its report, parsed, and its output. */
export async function wrk(url: string, seconds: number): Promise<WrkResult & { output: string }> {
  const run = await spawnTimed(
    "wrk",
    ["-t", "2", "-c", "100", "-d", `${seconds}s`, "--timeout", `${WRK_TIMEOUT_S}s`, "--latency", url],
    (seconds + WRK_TIMEOUT_S) * 1000 + 120_000,
  );
  const result = parseWrk(run.stdout);
  if (run.code !== 0 || !result) throw new Error(`wrk failed: ${failureText(run)}`);
  return { ...result, output: run.stdout };
}

/** Starts a server process, waits for its "listening" line, runs `body`, then stops it. */
export async function withServer<T>(command: string, args: string[], body: () => Promise<T>): Promise<T> {
  const child = new Deno.Command(command, { args, stdout: "piped", stderr: "piped", stdin: "null" }).spawn();
  const reader = child.stdout.getReader();
  const decoder = new TextDecoder();
  let seen = "";
  const deadline = Date.now() + 120_000;
  try {
    while (!seen.includes("listening on")) {
      if (Date.now() > deadline) throw new Error(`the server did not start: ${seen}`);
      const { value, done } = await reader.read();
      if (done) throw new Error(`the server exited: ${seen}`);
      seen += decoder.decode(value);
    }
    return await body();
  } finally {
    try {
      child.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    reader.releaseLock();
    await child.stdout.cancel().catch(() => {});
    await child.stderr.cancel().catch(() => {});
    await child.status;
  }
}

/** Requests/s and p99 (ms) cells from wrk runs against a server started by `start(port)`, and the
 * socket errors and bad responses wrk counted over all runs. */
export async function httpCells(
  start: (port: number) => { command: string; args: string[] },
  seconds: number,
  repeat: Repeat,
): Promise<{ rps: Cell; p99: Cell; errors: number }> {
  const p99s: number[] = [];
  let errors = 0;
  const rps = await measure(async () => {
    const port = freePort();
    const { command, args } = start(port);
    const result = await withServer(command, args, () => wrk(`http://127.0.0.1:${port}/`, seconds));
    errors += result.errors; // reported beside the figures, not a failure of the benchmark
    p99s.push(result.p99Ms);
    return result.requestsPerSecond;
  }, repeat);
  if ("error" in rps) return { rps, p99: rps, errors };
  const sorted = [...p99s].sort((a, b) => a - b);
  return { rps, p99: { value: sorted[Math.floor(sorted.length / 2)] as number, n: sorted.length }, errors };
}

/**
 * MiB/s host -> server ("up") and server -> host ("down"), moving `mib` MiB each way per run to
 * `net_bulk serve PORT` started by `start(port)`. Only timed: the host does not hash (see BulkOptions).
 */
export async function tcpThroughputCells(
  start: (port: number) => { command: string; args: string[] },
  mib: number,
  repeat: Repeat,
): Promise<{ up: Cell; down: Cell }> {
  const downs: number[] = [];
  const rate = (t: { bytes: number; ms: number }) => {
    if (t.bytes !== mib << 20) throw new Error(`moved ${t.bytes} bytes of ${mib << 20}`);
    return Math.round((mib / (t.ms / 1000)) * 100) / 100;
  };
  const up = await measure(async () => {
    const port = freePort();
    const { command, args } = start(port);
    return await withServer(command, args, async () => {
      const sent = rate(await bulkPut(port, mib << 20, { verify: false }));
      downs.push(rate(await bulkGet(port, mib << 20, { verify: false })));
      return sent;
    });
  }, repeat);
  if ("error" in up) return { up, down: up };
  const sorted = [...downs].sort((a, b) => a - b);
  return { up, down: { value: sorted[Math.floor(sorted.length / 2)] as number, n: sorted.length, samples: downs } };
}

/** The `dhcp` phase (ms) of a `--bootchart` console, or null. */
export function dhcpPhaseMs(console: string): number | null {
  const m = /^\s*dhcp\s+[\d.]+ms \(\+([\d.]+)ms\)/m.exec(console);
  return m ? Number(m[1]) : null;
}
