import assert from "node:assert/strict";
import type { V1Node } from "@kubernetes/client-node";
import { nodeState, slimNode } from "./nodes.ts";

function node(ready?: string, unschedulable?: boolean): V1Node {
  return {
    metadata: { name: "n0", uid: "u", resourceVersion: "7", labels: { zone: "a" } },
    spec: { unschedulable, podCIDR: "10.0.0.0/24" },
    status: {
      conditions: ready === undefined ? [] : [
        { type: "MemoryPressure", status: "False" },
        {
          type: "Ready",
          status: ready,
          reason: "KubeletReady",
          lastHeartbeatTime: new Date(),
        },
      ],
      images: [{ names: ["postgres:15"], sizeBytes: 1 }],
    },
  };
}

Deno.test("nodeState() is Ready only with Ready True (or none reported), and cordoned by spec.unschedulable", () => {
  assert.deepEqual(nodeState(node("True")), {
    ready: true,
    unschedulable: false,
    condition: "True (KubeletReady)",
  });
  assert.equal(nodeState(node("False")).ready, false);
  assert.equal(nodeState(node("Unknown")).ready, false);
  assert.equal(nodeState(node()).ready, true);
  assert.equal(nodeState(node("True", true)).unschedulable, true);
});

Deno.test("slimNode() keeps only what nodeState() reads, without the heartbeat time", () => {
  const slim = slimNode(node("True", true));
  assert.deepEqual(slim, {
    metadata: { name: "n0", uid: "u", resourceVersion: "7" },
    spec: { unschedulable: true },
    status: { conditions: [{ type: "Ready", status: "True", reason: "KubeletReady" }] },
  });
  assert.deepEqual(nodeState(slim), nodeState(node("True", true)));
  assert.deepEqual(slimNode(node()), {
    metadata: { name: "n0", uid: "u", resourceVersion: "7" },
    spec: {},
    status: {},
  });
});
