import { assert, assertEquals, assertStringIncludes, assertThrows } from "./_assert.ts";
import { compileC, withEnv } from "./_helpers.ts";
import {
  AIO_CACHE_FILE,
  AIO_PROBE_INPUT,
  aioCacheKey,
  aioDriveOptions,
  type AioHost,
  aioProbeArgs,
  interpretAioProbe,
  parseAioOverride,
  type ProbeOutcome,
  probeQemuAio,
  type ProbeRunner,
  qemuAio,
  settleQemuAio,
} from "../../hypervisors/_qemu_aio.ts";
import { decodeGuestExit, qemuAvailable } from "../../hypervisors/_qemu_common.ts";
import { qemuMicrovmCommand } from "../../hypervisors/qemu_microvm.ts";
import { findExecutable } from "../../core/host.ts";
import { RunError, type VmSpec } from "../../mod.ts";

const HOST: AioHost = { release: "6.1.0-test", ioUringDisabled: "0" };
const OK: ProbeOutcome = {
  code: 0,
  stdout: '{"QMP": {"version": {}}}\n{"return": {}}\n{"return": {}}\n',
  stderr: "",
  timedOut: false,
};
const REFUSED: ProbeOutcome = {
  code: 1,
  stdout: "",
  stderr: "qemu-system-x86_64: -blockdev driver=file,...,aio=io_uring,read-only=on: Unable to use io_uring: " +
    "failed to init linux io_uring ring: Operation not permitted\n",
  timedOut: false,
};

/** A stand-in QEMU binary (never run: the probe runner is a fake) and a cache directory. */
async function sandbox(): Promise<{ dir: string; binary: string; cacheDir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "osv-aio-test-" });
  const binary = `${dir}/qemu-system-x86_64`;
  await Deno.writeTextFile(binary, "#!/bin/sh\nexit 1\n");
  await Deno.chmod(binary, 0o755);
  return { dir, binary, cacheDir: `${dir}/cache` };
}

/** A probe runner answering `outcome` and counting its calls. */
function fakeRunner(outcome: ProbeOutcome): ProbeRunner & { calls: string[][] } {
  const calls: string[][] = [];
  const run = (_binary: string, args: string[], input: string) => {
    calls.push(args);
    assertEquals(input, AIO_PROBE_INPUT);
    return Promise.resolve(outcome);
  };
  return Object.assign(run, { calls });
}

Deno.test("interpretAioProbe(): io_uring when QMP answered, threads (cached) when QEMU refused io_uring", () => {
  assertEquals(interpretAioProbe(OK), { aio: "io_uring", reason: null, cacheable: true });
  assertEquals(interpretAioProbe(REFUSED), {
    aio: "threads",
    reason: REFUSED.stderr.trim(),
    cacheable: true,
  });
  // A QEMU built without io_uring does not know the value at all.
  const unknown = interpretAioProbe({
    ...REFUSED,
    stderr: "qemu-system-x86_64: -blockdev ...: Parameter 'aio' does not accept value 'io_uring'\n",
  });
  assertEquals([unknown.aio, unknown.cacheable], ["threads", true]);
});

Deno.test("interpretAioProbe(): a timeout, a crash or an unrelated failure means threads, not cached", () => {
  const timeout = interpretAioProbe({ code: null, stdout: "", stderr: "", timedOut: true });
  assertEquals([timeout.aio, timeout.cacheable], ["threads", false]);
  assertStringIncludes(timeout.reason ?? "", "did not answer within");
  const crash = interpretAioProbe({ code: null, stdout: "", stderr: "", timedOut: false });
  assertEquals(crash, { aio: "threads", reason: "QEMU exited with a signal", cacheable: false });
  const other = interpretAioProbe({ code: 1, stdout: "", stderr: "qemu: could not load PC BIOS\n", timedOut: false });
  assertEquals(other, { aio: "threads", reason: "qemu: could not load PC BIOS", cacheable: false });
  // Status 0 without QMP's answer is no proof either.
  assertEquals(interpretAioProbe({ ...OK, stdout: "" }).aio, "threads");
});

Deno.test("the probe opens a file with aio=io_uring on a machine-less QEMU, commas in its path escaped", () => {
  const args = aioProbeArgs("/tmp/a,b");
  assertEquals(args.slice(0, 2), ["-machine", "none"]);
  assertStringIncludes(args.join(" "), "-blockdev driver=file,filename=/tmp/a,,b,node-name=probe,aio=io_uring");
  assertEquals(args.slice(-2), ["-qmp", "stdio"]);
});

Deno.test("probeQemuAio(): a miss probes and caches, a hit does not probe, a new key probes again", async () => {
  const { dir, binary, cacheDir } = await sandbox();
  try {
    const run = fakeRunner(OK);
    assertEquals(await probeQemuAio(binary, { cacheDir, host: HOST, run }), {
      aio: "io_uring",
      reason: null,
      cached: false,
    });
    assertEquals(run.calls.length, 1);
    const file = `${cacheDir}/${AIO_CACHE_FILE}`;
    assertEquals(JSON.parse(await Deno.readTextFile(file)), { [aioCacheKey(binary, HOST)]: "io_uring" });

    assertEquals(await probeQemuAio(binary, { cacheDir, host: HOST, run }), {
      aio: "io_uring",
      reason: null,
      cached: true,
    });
    assertEquals(run.calls.length, 1, "a hit runs nothing");

    // Another kernel, another io_uring sysctl, another QEMU binary (an upgrade changes size and mtime).
    const refused = fakeRunner(REFUSED);
    const host = { ...HOST, release: "6.2.0-test" };
    assertEquals((await probeQemuAio(binary, { cacheDir, host, run: refused })).aio, "threads");
    assertEquals((await probeQemuAio(binary, { cacheDir, host, run: refused })).cached, true);
    const disabled = { ...HOST, ioUringDisabled: "2" };
    assertEquals((await probeQemuAio(binary, { cacheDir, host: disabled, run: refused })).aio, "threads");
    assertEquals(refused.calls.length, 2);
    await Deno.writeTextFile(binary, "#!/bin/sh\n# upgraded\nexit 1\n");
    assertEquals((await probeQemuAio(binary, { cacheDir, host: HOST, run })).cached, false);
    assertEquals(run.calls.length, 2);
    // Every key is kept: the file is shared by all the QEMU binaries and kernels this cache has seen.
    assertEquals(Object.keys(JSON.parse(await Deno.readTextFile(file))).length, 4);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("probeQemuAio(): an answer that may not recur is not cached; a broken cache file is probed over", async () => {
  const { dir, binary, cacheDir } = await sandbox();
  try {
    const timeout = fakeRunner({ code: null, stdout: "", stderr: "", timedOut: true });
    assertEquals((await probeQemuAio(binary, { cacheDir, host: HOST, run: timeout })).aio, "threads");
    assertEquals((await probeQemuAio(binary, { cacheDir, host: HOST, run: timeout })).cached, false);
    assertEquals(timeout.calls.length, 2);
    const failing: ProbeRunner = () => Promise.reject(new Error("spawn failed"));
    assertEquals(await probeQemuAio(binary, { cacheDir, host: HOST, run: failing }), {
      aio: "threads",
      reason: "spawn failed",
      cached: false,
    });

    await Deno.mkdir(cacheDir, { recursive: true });
    await Deno.writeTextFile(`${cacheDir}/${AIO_CACHE_FILE}`, "{not json");
    const run = fakeRunner(OK);
    assertEquals((await probeQemuAio(binary, { cacheDir, host: HOST, run })).aio, "io_uring");
    assertEquals(run.calls.length, 1);
    assertEquals(JSON.parse(await Deno.readTextFile(`${cacheDir}/${AIO_CACHE_FILE}`)), {
      [aioCacheKey(binary, HOST)]: "io_uring",
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("$OSV_QEMU_AIO overrides the probe; a bad value is a clear error", async () => {
  assertEquals(parseAioOverride(undefined), null);
  assertEquals(parseAioOverride(""), null);
  for (const mode of ["io_uring", "threads", "native"] as const) assertEquals(parseAioOverride(mode), mode);
  assertEquals(
    assertThrows(() => parseAioOverride("uring"), RangeError).message,
    `$OSV_QEMU_AIO is "uring": expected io_uring, threads or native (or unset to probe)`,
  );

  const { dir, binary, cacheDir } = await sandbox();
  try {
    const run = fakeRunner(OK);
    await withEnv({ OSV_QEMU_AIO: "threads" }, async () => {
      assertEquals(await settleQemuAio(binary, { cacheDir, host: HOST, run }), "threads");
      assertEquals(qemuAio(binary), "threads");
    });
    assertEquals(run.calls.length, 0, "the override skips the probe");
    await withEnv({ OSV_QEMU_AIO: "" }, async () => {
      assertEquals(await settleQemuAio(binary, { cacheDir, host: HOST, run }), "io_uring");
      assertEquals(qemuAio(binary), "io_uring", "settled for the command line");
    });
    await withEnv({ OSV_QEMU_AIO: "iouring", OSV_QEMU: binary }, async () => {
      assertEquals(await qemuAvailable("tcg"), {
        ok: false,
        reason: `$OSV_QEMU_AIO is "iouring": expected io_uring, threads or native (or unset to probe)`,
      });
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the image disk gets aio=io_uring; native adds cache.direct=on; threads is QEMU's default", async () => {
  assertEquals(aioDriveOptions("io_uring"), ",aio=io_uring");
  assertEquals(aioDriveOptions("native"), ",aio=native,cache.direct=on");
  assertEquals(aioDriveOptions("threads"), "");
  assertEquals(aioDriveOptions(null), "");
  const spec: VmSpec = {
    kernelPath: "/tmp/k.elf",
    disks: [{ path: "/img/app.img", format: "raw", readOnly: true }],
    cmdline: "/app",
    memMiB: 64,
    cpus: 1,
    accel: "tcg",
    controlPath: "/tmp/ctl",
    imageName: "app.img",
    nics: [],
  };
  const drive = (args: string[]) => args[args.indexOf("-drive") + 1];
  await withEnv({ OSV_QEMU_AIO: "io_uring" }, () => {
    assertEquals(
      drive(qemuMicrovmCommand(spec).args),
      "file=/img/app.img,format=raw,if=none,id=disk0,readonly=on,aio=io_uring",
    );
    return Promise.resolve();
  });
  await withEnv({ OSV_QEMU_AIO: "threads" }, () => {
    assertEquals(drive(qemuMicrovmCommand(spec).args), "file=/img/app.img,format=raw,if=none,id=disk0,readonly=on");
    return Promise.resolve();
  });
});

Deno.test("QEMU failing at start over io_uring: the error says to set OSV_QEMU_AIO=threads", () => {
  const err = assertThrows(
    () =>
      decodeGuestExit(
        {
          code: 1,
          signal: null,
          control: "",
          kvmFailure: false,
          interrupted: false,
          stderrTail: "qemu-system-x86_64: -drive file=app.img,...,aio=io_uring: Unable to use io_uring: failed to " +
            "init linux io_uring ring: Operation not permitted\n",
        },
        "app.img",
      ),
    RunError,
  );
  assertStringIncludes(err.message, `Cannot run "app.img": QEMU could not use io_uring for the disk (`);
  assertStringIncludes(err.message, "set OSV_QEMU_AIO=threads to use QEMU's thread pool, or delete ");
  assertStringIncludes(err.message, "/qemu-aio.json for osv to probe again");
});

/** Runs a program with io_uring_setup(2) failing with EPERM, as container seccomp profiles do. */
const NO_IO_URING = `#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>
int main(int argc, char **argv) {
  struct sock_filter filter[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 425 /* io_uring_setup on x86-64 */, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {.len = sizeof(filter) / sizeof(filter[0]), .filter = filter};
  if (argc < 2 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)) {
    perror("no-io-uring");
    return 127;
  }
  execvp(argv[1], argv + 1);
  perror(argv[1]);
  return 127;
}
`;

const qemu = findExecutable("qemu-system-x86_64");

Deno.test({
  name: "the real probe: this QEMU answers, and says threads where seccomp denies io_uring_setup",
  ignore: qemu === null || findExecutable("gcc") === null,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "osv-aio-real-" });
    try {
      const here = await probeQemuAio(qemu!, { cacheDir: dir });
      assertEquals(here.cached, false);
      assert(here.aio === "io_uring" || /io_uring/.test(here.reason ?? ""), `probe: ${JSON.stringify(here)}`);

      const wrapper = await compileC("no-io-uring", NO_IO_URING, ["-O1"]);
      const denied = `${dir}/qemu-without-io-uring`;
      await Deno.writeTextFile(denied, `#!/bin/sh\nexec ${wrapper} ${qemu} "$@"\n`);
      await Deno.chmod(denied, 0o755);
      const probe = await probeQemuAio(denied, { cacheDir: dir });
      assertEquals(probe.aio, "threads");
      assertStringIncludes(probe.reason ?? "", "Unable to use io_uring");
      assertEquals((await probeQemuAio(denied, { cacheDir: dir })).cached, true, "a refusal is cached");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
