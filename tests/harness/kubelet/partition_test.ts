import assert from "node:assert/strict";
import { type PartitionedPod, partitionRuleset, peersOf, separates } from "./partition.ts";

function pod(
  name: string,
  ip: string,
  mark: number,
  cut = false,
  namespace = "ns",
): PartitionedPod {
  return { cgroup: `dbop-kubelet-7/${name}`, ip, mark, namespace, cut };
}

const API = { ip: "127.0.0.1", port: 6443 };

Deno.test("partitionRuleset() names every pod's Service traffic by its IP, and cuts nothing more", () => {
  const script = partitionRuleset({
    table: "t",
    apiServer: API,
    serviceCidr: "127.96.0.0/16",
    pods: [pod("a", "127.244.0.1", 1), pod("b", "127.244.0.2", 2)],
  });
  assert.equal(
    script,
    `table inet t
delete table inet t
table inet t {
  chain output {
    type filter hook output priority filter; policy accept;
    socket cgroupv2 level 2 "dbop-kubelet-7/a" ip daddr 127.96.0.0/16 meta mark set 1
    socket cgroupv2 level 2 "dbop-kubelet-7/b" ip daddr 127.96.0.0/16 meta mark set 2
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    meta mark 1 ip daddr 127.96.0.0/16 snat ip to 127.244.0.1
    meta mark 2 ip daddr 127.96.0.0/16 snat ip to 127.244.0.2
  }
}
`,
  );
});

Deno.test("partitionRuleset() drops a cut pod's packets to the API server and its peers, and theirs to it", () => {
  const script = partitionRuleset({
    table: "t",
    apiServer: API,
    serviceCidr: "127.96.0.0/16",
    pods: [
      pod("a", "127.244.0.1", 1, true),
      pod("b", "127.244.0.2", 2),
      pod("c", "127.244.0.3", 3, false, "other"),
    ],
  });
  const drops = script.split("\n").map((line) => line.trim()).filter((line) =>
    line.endsWith("drop")
  );
  assert.deepEqual(drops, [
    'socket cgroupv2 level 2 "dbop-kubelet-7/a" ip daddr 127.0.0.1 tcp dport 6443 drop',
    'socket cgroupv2 level 2 "dbop-kubelet-7/a" ip daddr 127.244.0.2 drop',
    'socket cgroupv2 level 2 "dbop-kubelet-7/b" ip daddr 127.244.0.1 drop',
  ]);
});

Deno.test("separates() holds between a cut pod and its peers of the same namespace only", () => {
  const pods = [
    pod("a", "127.244.0.1", 1, true),
    pod("b", "127.244.0.2", 2),
    pod("c", "127.244.0.3", 3),
    pod("d", "127.244.0.4", 4, false, "other"),
  ];
  assert.equal(separates(pods, "127.244.0.2", "127.244.0.1"), true);
  assert.equal(separates(pods, "127.244.0.1", "127.244.0.3"), true);
  assert.equal(separates(pods, "127.244.0.2", "127.244.0.3"), false, "two uncut peers");
  assert.equal(separates(pods, "127.244.0.4", "127.244.0.1"), false, "another namespace");
  assert.equal(separates(pods, "127.0.0.1", "127.244.0.1"), false, "not a pod: the test's clients");
  assert.deepEqual(peersOf(pods[0], pods).map((p) => p.ip), ["127.244.0.2", "127.244.0.3"]);
});
