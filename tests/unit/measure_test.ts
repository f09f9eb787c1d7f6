import { assertEquals } from "./_assert.ts";
import { floorCommand, measureInTurn, pairedDifference } from "../../bench/_measure.ts";

const DRY_RUN = [
  "qemu-system-x86_64",
  "-kernel",
  "/cache/boot/kernel-ab-100.elf",
  "-initrd",
  "/tmp/osv-run-x1/fs.ramfs",
  "-append",
  "--bootchart /hello",
  "-chardev",
  "file,id=osvctl,path=/tmp/osv-run-x1/control",
];

Deno.test("floorCommand swaps in the stub kernel, or keeps osv's VM, and finds the dry run's directory", () => {
  const floor = floorCommand(DRY_RUN, "/stub.elf", "/work/floor-control");
  assertEquals(floor.args, [
    "-kernel",
    "/stub.elf",
    "-append",
    "floor",
    "-chardev",
    "file,id=osvctl,path=/work/floor-control",
  ]);
  assertEquals(floor.dryRunDir, "/tmp/osv-run-x1");
  const direct = floorCommand(DRY_RUN, null, "/work/direct-control");
  assertEquals(direct.args, [...DRY_RUN.slice(1, -1), "file,id=osvctl,path=/work/direct-control"]);
  assertEquals(direct.command, "qemu-system-x86_64");
});

Deno.test("measureInTurn samples each measurement once per round, and an error ends only its own cell", async () => {
  const order: string[] = [];
  let b = 0;
  const cells = await measureInTurn({
    a: () => (order.push("a"), Promise.resolve(10)),
    b: () => {
      order.push("b");
      if (++b === 2) return Promise.reject(new Error("b broke"));
      return Promise.resolve(1);
    },
    c: () => (order.push("c"), Promise.resolve(order.length)),
  }, { runs: 3, budgetMs: 60_000, minRuns: 1 });
  assertEquals(order, ["a", "b", "c", "a", "b", "c", "a", "c"]);
  assertEquals(cells.a, { value: 10, n: 3, samples: [10, 10, 10] });
  assertEquals(cells.b, { error: "b broke" });
  assertEquals(cells.c, { value: 6, n: 3, samples: [3, 6, 8] });
});

Deno.test("measureInTurn stops after the budget once it has the minimum of rounds", async () => {
  let calls = 0;
  const slow = () => new Promise<number>((resolve) => setTimeout(() => resolve(++calls), 5));
  const cells = await measureInTurn({ slow }, { runs: 100, budgetMs: 1, minRuns: 2 });
  assertEquals(cells.slow, { value: 1.5, n: 2, samples: [1, 2] });
});

Deno.test("pairedDifference takes the median of per-round differences when the samples pair up", () => {
  // Medians 20 - 12 = 8; paired differences 9, 7, 11 have median 9.
  const x = { value: 20, n: 3, samples: [19, 20, 21] };
  const y = { value: 12, n: 3, samples: [10, 13, 10] };
  assertEquals(pairedDifference(x, y), { value: 9, n: 3 });
  assertEquals(pairedDifference({ value: 20, n: 3 }, { value: 12.5, n: 2 }), { value: 7.5, n: 2 });
});
