import assert from "node:assert/strict";
import { parseServerStatus } from "./status.ts";

const base = {
  systemIdentifier: "7441234567890123456",
  timeline: 1,
  lastReplayAgeSeconds: null,
  walReceiverStatus: null,
  receiverTimeline: null,
  pendingRestart: false,
  postmasterStartTime: "2026-12-03T06:00:00.123+00:00",
};

Deno.test("parseServerStatus() reads a primary and the lag of each standby", () => {
  const status = parseServerStatus(JSON.stringify({
    ...base,
    inRecovery: false,
    currentLsn: "1/100",
    receivedLsn: null,
    replayedLsn: null,
    standbys: [
      {
        name: "pg-1",
        state: "streaming",
        sentLsn: "1/100",
        flushLsn: "1/100",
        replayLsn: "0/FFFFFF00",
        replayLagSeconds: 0.002,
        syncState: "async",
      },
      {
        name: "pg-2",
        state: "startup",
        sentLsn: null,
        flushLsn: null,
        replayLsn: null,
        replayLagSeconds: null,
        syncState: "async",
      },
    ],
  }));
  assert.equal(status.role, "primary");
  assert.equal(status.currentLsn, "1/100");
  assert.equal(status.receivedLsn, undefined);
  assert.deepEqual(status.standbys?.map((s) => [s.name, s.lagBytes]), [
    ["pg-1", "512"],
    ["pg-2", null],
  ]);
});

Deno.test("parseServerStatus() reads a standby's positions, lag and receiver timeline", () => {
  const status = parseServerStatus(JSON.stringify({
    ...base,
    inRecovery: true,
    timeline: 1,
    currentLsn: null,
    receivedLsn: "0/5000200",
    replayedLsn: "0/5000000",
    lastReplayAgeSeconds: 1.5,
    walReceiverStatus: "streaming",
    receiverTimeline: 2,
    pendingRestart: true,
    standbys: [],
  }));
  assert.equal(status.role, "standby");
  assert.equal(status.timeline, 2);
  assert.equal(status.replayLagBytes, "512");
  assert.equal(status.replayLagSeconds, 1.5);
  assert.equal(status.walReceiverStreaming, true);
  assert.equal(status.pendingRestart, true);
  assert.equal(status.currentLsn, undefined);
  assert.equal(status.standbys, undefined);
});

Deno.test("parseServerStatus() sees a standby whose receiver is down", () => {
  const status = parseServerStatus(JSON.stringify({
    ...base,
    inRecovery: true,
    currentLsn: null,
    receivedLsn: null,
    replayedLsn: "0/5000000",
    standbys: [],
  }));
  assert.equal(status.walReceiverStreaming, false);
  assert.equal(status.timeline, 1);
  assert.equal(status.replayLagBytes, undefined);
});

Deno.test("parseServerStatus() refuses a row of another shape", () => {
  assert.throws(() => parseServerStatus(JSON.stringify({ inRecovery: "yes" })));
  assert.throws(() => parseServerStatus("not json"));
});
