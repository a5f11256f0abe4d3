import assert from "node:assert/strict";
import { cpu, verbs } from "./report.ts";

Deno.test("verbs() lists reads before writes, with the total", () => {
  assert.equal(
    verbs({ patch: 15, create: 2, get: 0.5, APPLY: 3 }),
    "get 0.5, create 2, patch 15, APPLY 3 (total 20.5)",
  );
  assert.equal(verbs(undefined), "-");
  assert.equal(verbs({ watch: 0.004 }), "watch <0.01 (total 0)");
});

Deno.test("cpu() lists processes by CPU seconds, largest first, with the total", () => {
  assert.equal(
    cpu({ dbop: 1.25, "kube-apiserver": 10 }),
    "kube-apiserver 10.0, dbop 1.3 (total 11.3)",
  );
});
