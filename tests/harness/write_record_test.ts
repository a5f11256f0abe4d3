import assert from "node:assert/strict";
import {
  acknowledgedIds,
  outageDuring,
  outages,
  verifyRecord,
  type WriteAttempt,
  type WriteOutcome,
} from "./write_record.ts";

function attempt(id: number, outcome: WriteOutcome, answeredAt: number): WriteAttempt {
  return { id, outcome, sentAt: answeredAt - 1, answeredAt };
}

const RECORD = [
  attempt(1, "acknowledged", 110),
  attempt(2, "acknowledged", 130),
  attempt(3, "unknown", 140),
  attempt(4, "failed", 600),
  attempt(5, "acknowledged", 1130),
  attempt(6, "acknowledged", 1150),
];

Deno.test("acknowledgedIds() lists the acknowledged ids in order", () => {
  assert.deepEqual(acknowledgedIds(RECORD), [1, 2, 5, 6]);
});

Deno.test("outages() measures the gaps between acknowledged commits, longest first", () => {
  const list = outages(RECORD, 100, 1200);
  assert.deepEqual(list[0], {
    from: 130,
    to: 1130,
    ms: 1000,
    afterId: 2,
    beforeId: 5,
    open: false,
  });
  assert.deepEqual(list.map((o) => o.ms), [1000, 50, 20, 20, 10]);
  assert.deepEqual(list.find((o) => o.open), {
    from: 1150,
    to: 1200,
    ms: 50,
    afterId: 6,
    open: true,
  });
  assert.deepEqual(list.find((o) => o.beforeId === 1)?.from, 100, "the first starts at the start");
});

Deno.test("outages() counts a writer that never recovered as one open outage", () => {
  const list = outages([attempt(1, "acknowledged", 110), attempt(2, "unknown", 120)], 100, 5000);
  assert.deepEqual(list[0], { from: 110, to: 5000, ms: 4890, afterId: 1, open: true });
  assert.deepEqual(outages([], 0, 300), [{
    from: 0,
    to: 300,
    ms: 300,
    afterId: undefined,
    open: true,
  }]);
});

Deno.test("outageDuring() finds the longest outage that overlaps an interval", () => {
  const list = outages(RECORD, 100, 1200);
  assert.equal(outageDuring(list, 125, 1000)?.ms, 1000, "it may start inside the interval");
  assert.equal(outageDuring(list, 200, 1140)?.ms, 1000, "or end inside it");
  assert.equal(outageDuring(list, 1131, 1140)?.ms, 20);
  assert.equal(outageDuring([], 0, 10), undefined);
});

Deno.test("verifyRecord() reports lost acknowledged ids and committed failed ones", () => {
  assert.deepEqual(verifyRecord(RECORD, [1, 2, 3, 5, 6]), {
    acknowledged: 4,
    present: 5,
    missing: [],
    failedPresent: [],
    unknownPresent: 1,
    unknown: 1,
  });
  const bad = verifyRecord(RECORD, [1, 4, 6]);
  assert.deepEqual(bad.missing, [2, 5]);
  assert.deepEqual(bad.failedPresent, [4]);
  assert.equal(bad.unknownPresent, 0);
});
