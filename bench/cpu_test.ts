import assert from "node:assert/strict";
import { cpuUsed, parseProcStat } from "./cpu.ts";

Deno.test("parseProcStat() adds user and system ticks, even with spaces in the command name", () => {
  const stat = "4242 (kube apiserver) S 1 4242 4242 0 -1 4194560 5000 0 0 0 1234 566 0 0 20 0 " +
    "30 0 1000 1000000 2000 18446744073709551615";
  assert.equal(parseProcStat(stat), 18);
});

Deno.test("cpuUsed() gives each process's seconds between snapshots, largest first", () => {
  const used = cpuUsed({ dbop: 1, etcd: 2 }, { dbop: 4.04, etcd: 2.5, kwok: 1 });
  assert.deepEqual(Object.entries(used), [["dbop", 3], ["kwok", 1], ["etcd", 0.5]]);
});
