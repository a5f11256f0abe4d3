import assert from "node:assert/strict";
import { PROBES, renderTable } from "./client_memory.ts";

Deno.test("renderTable() prints one row per probe in MiB and the command of each", () => {
  const table = renderTable(
    PROBES.map((probe, i) => ({ probe, rss: (40 + i) * 1024 * 1024, heapUsed: 3 * 1024 * 1024 })),
    3,
  );
  assert.match(
    table,
    /^\| lean \| lib\/kube\/client\.ts, lib\/kube\/in_cluster\.ts \| 41\.0 MiB \| 3\.0 MiB \|$/m,
  );
  assert.match(table, /Medians of 3 runs/);
  for (const probe of PROBES) {
    assert.ok(table.includes(`--allow-env ${probe.file} <dir>`), probe.name);
  }
});
