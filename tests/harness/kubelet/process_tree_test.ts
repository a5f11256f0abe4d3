import assert from "node:assert/strict";
import { descendants } from "./process_tree.ts";

const TABLE = [
  { pid: 1, ppid: 0 },
  { pid: 10, ppid: 1 },
  { pid: 11, ppid: 10 },
  { pid: 12, ppid: 11 },
  { pid: 13, ppid: 11 },
  { pid: 20, ppid: 1 },
  { pid: 21, ppid: 20 },
];

Deno.test("descendants() lists the roots and everything below them, parents first", () => {
  assert.deepEqual(descendants(TABLE, [10]), [10, 11, 12, 13]);
  assert.deepEqual(descendants(TABLE, [11, 20]), [11, 20, 12, 13, 21]);
});

Deno.test("descendants() leaves out roots that are not in the table", () => {
  assert.deepEqual(descendants(TABLE, [99, 21]), [21]);
  assert.deepEqual(descendants(TABLE, []), []);
});

Deno.test("descendants() lists a process once when roots overlap", () => {
  assert.deepEqual(descendants(TABLE, [10, 11]), [10, 11, 12, 13]);
});
