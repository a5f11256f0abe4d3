import assert from "node:assert/strict";
import { difference, parsePrometheus, sumBy, sumOf } from "./metrics.ts";

const TEXT = `# HELP apiserver_request_total Counter of apiserver requests
# TYPE apiserver_request_total counter
apiserver_request_total{code="200",component="apiserver",resource="pods",verb="LIST"} 7
apiserver_request_total{code="201",component="apiserver",resource="pods",verb="POST"} 3
apiserver_request_total{code="409",component="apiserver",resource="secrets",verb="POST"} 1
process_resident_memory_bytes 1.5e+08
odd_metric{path="a \\"quoted\\", b",le="+Inf"} 2 1700000000000
`;

Deno.test("parsePrometheus() reads names, labels with escaped quotes, values and timestamps", () => {
  const samples = parsePrometheus(TEXT);
  assert.equal(samples.length, 5);
  assert.deepEqual(samples[0].labels, {
    code: "200",
    component: "apiserver",
    resource: "pods",
    verb: "LIST",
  });
  assert.equal(samples[3].value, 150_000_000);
  assert.deepEqual(samples[4].labels, { path: 'a "quoted", b', le: "+Inf" });
  assert.equal(samples[4].value, 2);
});

Deno.test("sumOf() and sumBy() add the samples that match the filter", () => {
  const samples = parsePrometheus(TEXT);
  assert.equal(sumOf(samples, "apiserver_request_total"), 11);
  assert.equal(sumOf(samples, "apiserver_request_total", { verb: "POST" }), 4);
  assert.equal(
    sumOf(samples, "apiserver_request_total", { code: (c) => c.startsWith("2") }),
    10,
  );
  assert.deepEqual(sumBy(samples, "apiserver_request_total", "verb"), { LIST: 7, POST: 4 });
});

Deno.test("difference() keeps only the keys that changed", () => {
  assert.deepEqual(difference({ a: 1, b: 2 }, { a: 1, b: 5, c: 1 }), { b: 3, c: 1 });
});
