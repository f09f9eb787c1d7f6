import { assertEquals, assertRejects, assertStringIncludes, assertThrows } from "./_assert.ts";
import { chooseAccel, PVM_HOST_DEFAULT_ACCEL, runKernelOptions, withKernelOptions } from "../../core/host.ts";
import { decodeGuestExit, launchQemu, parseControlExit, type QemuEnd } from "../../hypervisors/_qemu_common.ts";
import { qemuPcCommand } from "../../hypervisors/qemu.ts";
import { MICROVM_OPTIONS, qemuMicrovmCommand } from "../../hypervisors/qemu_microvm.ts";
import { RunError, type VmSpec } from "../../mod.ts";
import { captureConsole, withEnv } from "./_helpers.ts";

const spec: VmSpec = {
  kernelPath: "/tmp/k.elf",
  initrdPath: "/tmp/fs.cpio",
  disks: [],
  cmdline: "/hello a",
  memMiB: 64,
  cpus: 2,
  accel: "tcg",
  controlPath: "/tmp/ctl",
  imageName: "hello.img",
  nics: [],
};

const COMMON = [
  "-nodefaults",
  "-no-user-config",
  "-display",
  "none",
  "-no-reboot",
  "-m",
  "64",
  "-smp",
  "2",
  "-kernel",
  "/tmp/k.elf",
  "-initrd",
  "/tmp/fs.cpio",
  "-append",
  "/hello a",
  "-serial",
  "stdio",
  "-chardev",
  "file,id=osvctl,path=/tmp/ctl",
  "-device",
  "isa-serial,chardev=osvctl,index=1",
  "-device",
  "isa-debug-exit,iobase=0xf4,iosize=0x04",
];

Deno.test("qemu builds a pc machine command with -cpu max under tcg", async () => {
  await withEnv({ OSV_QEMU: "" }, () => {
    const cmd = qemuPcCommand(spec);
    assertEquals(cmd.command, "qemu-system-x86_64");
    assertEquals(cmd.args, ["-machine", "pc,accel=tcg", "-cpu", "max", ...COMMON]);
    return Promise.resolve();
  });
});

Deno.test("qemu-microvm builds a microvm command with -cpu host (minus arch-capabilities) under kvm", () => {
  const cmd = qemuMicrovmCommand({ ...spec, accel: "kvm" });
  assertEquals(cmd.args.slice(0, 4), [
    "-machine",
    `microvm,accel=kvm,${MICROVM_OPTIONS}`,
    "-cpu",
    "host,-arch-capabilities",
  ]);
  assertEquals(cmd.args.slice(4), COMMON);
  assertStringIncludes(MICROVM_OPTIONS, "isa-serial=on");
});

Deno.test("an image holding the root is attached read-only as virtio-blk, without an initrd", () => {
  const { initrdPath: _, ...rest } = spec;
  const withDisk: VmSpec = { ...rest, disks: [{ path: "/img/a,b.qcow2", format: "qcow2", readOnly: true }] };
  const drive = ["-drive", "file=/img/a,,b.qcow2,format=qcow2,if=none,id=disk0,readonly=on"];
  const pc = qemuPcCommand(withDisk).args;
  assertEquals(pc.includes("-initrd"), false);
  assertEquals(pc.slice(-4), [...drive, "-device", "virtio-blk-pci,drive=disk0"]);
  const microvm = qemuMicrovmCommand(withDisk).args;
  assertEquals(microvm.slice(-4), [...drive, "-device", "virtio-blk-device,drive=disk0"]);
});

Deno.test("$OSV_QEMU replaces the QEMU binary", async () => {
  await withEnv({ OSV_QEMU: "/opt/qemu/bin/qemu-system-x86_64" }, () => {
    assertEquals(qemuPcCommand(spec).command, "/opt/qemu/bin/qemu-system-x86_64");
    return Promise.resolve();
  });
});

Deno.test("chooseAccel() prefers hardware KVM, uses the PVM default on kvm_pvm, warns once when falling back", () => {
  assertEquals(chooseAccel(undefined, { usable: true, reason: null, pvm: false }), { accel: "kvm", warning: null });
  assertEquals(chooseAccel(undefined, { usable: true, reason: null, pvm: true }), {
    accel: PVM_HOST_DEFAULT_ACCEL,
    warning: null,
  });
  const fallback = chooseAccel(undefined, { usable: false, reason: "/dev/kvm does not exist", pvm: false });
  assertEquals(fallback.accel, "tcg");
  assertEquals(fallback.warning?.split("\n").length, 1);
  assertStringIncludes(fallback.warning ?? "", "/dev/kvm does not exist");
  assertEquals(chooseAccel("tcg", { usable: true, reason: null, pvm: false }).accel, "tcg");
  assertThrows(() => chooseAccel("kvm", { usable: false, reason: "no permission", pvm: false }));
});

Deno.test("--pvm-safe, --bootchart and --verbose go before the program path", () => {
  const options = runKernelOptions({ accel: "kvm", pvm: true, bootchart: true, verbose: true });
  assertEquals(options, ["--pvm-safe", "--bootchart", "--verbose"]);
  assertEquals(withKernelOptions(options, "/hello x"), "--pvm-safe --bootchart --verbose /hello x");
  assertEquals(runKernelOptions({ accel: "tcg", pvm: true }), []);
  assertEquals(runKernelOptions({ accel: "kvm", pvm: false }), []);
  assertEquals(withKernelOptions([], "/hello"), "/hello");
});

const end = (over: Partial<QemuEnd>): QemuEnd => ({
  code: 0,
  signal: null,
  control: "",
  kvmFailure: false,
  interrupted: false,
  stderrTail: "",
  ...over,
});

Deno.test("the control channel's exit line wins over QEMU's status", () => {
  assertEquals(parseControlExit("boot\nexit 200\n"), 200);
  assertEquals(parseControlExit("nothing"), null);
  assertEquals(decodeGuestExit(end({ code: 1, control: "exit 0\n" }), "a.img"), 0);
  assertEquals(decodeGuestExit(end({ code: 0x55, control: "exit 170\n" }), "a.img"), 170);
});

Deno.test("without an exit line, isa-debug-exit's odd status decodes to (s-1)/2", () => {
  assertEquals(decodeGuestExit(end({ code: 7 }), "a.img"), 3);
  assertEquals(decodeGuestExit(end({ code: 251 }), "a.img"), 125);
});

Deno.test("status 0 without an exit line is an error, not success", () => {
  const err = assertThrows(() => decodeGuestExit(end({ code: 0 }), "a.img"), RunError);
  assertEquals(err.message, `Cannot run "a.img": guest stopped without reporting an exit status`);
});

Deno.test("QEMU's own failure (status 1, no exit line) is reported with its message", () => {
  const err = assertThrows(() => decodeGuestExit(end({ code: 1, stderrTail: "qemu: bad option\n" }), "a.img"));
  assertEquals(err.message, `Cannot run "a.img": QEMU failed (exit status 1): qemu: bad option`);
});

Deno.test("a guest stopped by Ctrl-C ends with 130, by SIGTERM with 143 (osv stops QEMU to clean up)", () => {
  assertEquals(decodeGuestExit(end({ code: null, signal: "SIGTERM", interrupted: "SIGINT" }), "a.img"), 130);
  assertEquals(decodeGuestExit(end({ code: null, signal: "SIGTERM", interrupted: "SIGTERM" }), "a.img"), 143);
});

Deno.test("a port forward QEMU cannot set up is reported as a host port in use", () => {
  const tail = "qemu-system-x86_64: -netdev user,id=n0,hostfwd=tcp:127.0.0.1:8080-:80: Could not set up host " +
    "forwarding rule 'tcp:127.0.0.1:8080-:80'\n";
  const err = assertThrows(() => decodeGuestExit(end({ code: 1, stderrTail: tail }), "a.img"), RunError);
  assertEquals(
    err.message,
    `Cannot run "a.img": QEMU could not forward tcp:127.0.0.1:8080-:80: is the host port in use? ` +
      "Pick another one with --forward",
  );
});

async function fakeQemu(script: string): Promise<string> {
  const path = await Deno.makeTempFile({ prefix: "fake-qemu-" });
  await Deno.writeTextFile(path, `#!/bin/sh\n${script}\n`);
  await Deno.chmod(path, 0o755);
  return path;
}

Deno.test("a KVM internal error is detected on stderr, QEMU is killed and the message suggests tcg", async () => {
  const qemu = await fakeQemu(
    `echo "booting"; echo "KVM internal error. Suberror: 1" >&2; echo "emulation failure" >&2; exec sleep 30`,
  );
  const started = Date.now();
  const io = captureConsole();
  const err = await assertRejects(
    () => launchQemu({ command: qemu, args: [] }, { ...spec, accel: "kvm", controlPath: "/nonexistent/ctl" }, io),
    RunError,
  );
  assertEquals(
    err.message,
    `Cannot run "hello.img" with KVM: the host's KVM could not emulate an instruction in the guest kernel ` +
      "(KVM internal error); try --accel tcg",
  );
  assertEquals(Date.now() - started < 10_000, true);
  assertStringIncludes(io.text().out, "booting");
  assertStringIncludes(io.text().err, "KVM internal error");
  await Deno.remove(qemu);
});

Deno.test("launchQemu() streams the console and reads the control channel", async () => {
  const control = await Deno.makeTempFile();
  const qemu = await fakeQemu(`echo "guest says hi"; echo "exit 3" > "${control}"; exit 7`);
  const io = captureConsole();
  assertEquals(await launchQemu({ command: qemu, args: [] }, { ...spec, controlPath: control }, io), 3);
  assertEquals(io.text().out, "guest says hi\n");
  await Deno.remove(qemu);
  await Deno.remove(control);
});

Deno.test("a missing QEMU binary gives an install hint", async () => {
  const err = await assertRejects(
    () => launchQemu({ command: "/nonexistent/qemu", args: [] }, spec, captureConsole()),
    RunError,
  );
  assertStringIncludes(err.message, "is not installed (apt-get install qemu-system-x86)");
});
