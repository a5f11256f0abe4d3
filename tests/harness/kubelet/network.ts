/**
 * How the control plane divides pods between kwok and the emulated kubelet,
 * and the loopback networks that make the emulated kubelet's pods reachable.
 *
 * Pods in namespaces whose name starts with {@linkcode KUBELET_NAMESPACE_PREFIX}
 * belong to the emulated kubelet: kwok's own pod stages skip them, and one
 * extra stage only gives them their pod IP (from {@linkcode POD_CIDR}, inside
 * 127.0.0.0/8, so each pod's processes can bind their own address with no
 * setup: Linux routes all of 127/8 to `lo`). Everything else about them
 * (phase, conditions, container statuses, the final delete) is the kubelet's.
 * The split is by namespace because it needs nothing from the pods: dbop's
 * StatefulSet pods carry no test-only label, and kwok's stage selectors see
 * only the pod itself. Other pods keep kwok's default stages unchanged.
 *
 * Every pod IP is loopback, so whatever dbop sends to a pod (the operator
 * polls each instance's status endpoint) stays on this machine: a faked pod
 * has nothing listening, and the connection is refused at once. Two address
 * pools keep the two kinds of pod apart: kwok's `pod-ready` stage takes IPs
 * from the pod's node's `spec.podCIDR` ({@linkcode nodePodCidr}, in
 * 127.128.0.0/12), while the kubelet's stage calls kwok's `PodIP`, which takes
 * them from kwok's `--cidr` ({@linkcode POD_CIDR}). The API server rejects
 * loopback addresses in Endpoints and EndpointSlices, so the control plane
 * runs without the controllers that write them (see `control_plane.ts`); the
 * kubelet's proxy computes a Service's endpoints from its pods instead, and
 * nothing else here reads them. kwok recycles an address only into its
 * node's pool, so the kubelet's addresses are not reused within a control
 * plane's life (65k of them).
 *
 * @module
 */
import { parseAllDocuments, stringify } from "yaml";

/** Pods in namespaces with this prefix are run by the emulated kubelet, not faked by kwok. */
export const KUBELET_NAMESPACE_PREFIX = "kubelet-";

/**
 * The environment variable that carries this run's networks to the processes it starts
 * (`<pod octet>.<service octet>`): the test process's kubelet must use the control plane's.
 */
export const ENV_NETWORK = "DBOP_TEST_NETWORK";

/**
 * The second octets of this run's pod and service networks. Each run picks its own /16s at
 * random (pods in 127.160-239, services in 127.16-95), so control planes that run at the
 * same time on one machine (a test run and a benchmark, say) bind different addresses.
 */
function networkOctets(): [number, number] {
  const given = Deno.env.get(ENV_NETWORK);
  const match = given ? /^(\d+)\.(\d+)$/.exec(given) : null;
  if (match) return [Number(match[1]), Number(match[2])];
  const chosen: [number, number] = [
    160 + Math.floor(Math.random() * 80),
    16 + Math.floor(Math.random() * 80),
  ];
  Deno.env.set(ENV_NETWORK, chosen.join("."));
  return chosen;
}

const [POD_OCTET, SERVICE_OCTET] = networkOctets();

/** kwok's `--cidr`, the emulated kubelet's pod IPs: loopback, so pods' processes can bind them. */
export const POD_CIDR = `127.${POD_OCTET}.0.0/16`;

/** kube-apiserver's `--service-cluster-ip-range`: loopback, so the harness can proxy ClusterIPs. */
export const SERVICE_CIDR = `127.${SERVICE_OCTET}.0.0/16`;

/** The `kubernetes` Service's ClusterIP: the first address of {@linkcode SERVICE_CIDR}. */
export const KUBERNETES_SERVICE_IP = `127.${SERVICE_OCTET}.0.1`;

/** The `spec.podCIDR` of fake node `index`: a /20 (4096 pods) of 127.128.0.0/12, where kwok's pods get IPs. */
export function nodePodCidr(index: number): string {
  if (index >= 256) throw new Error(`No pod CIDR for node ${index}: at most 256 nodes`);
  return `127.${128 + Math.floor(index / 16)}.${(index % 16) * 16}.0/20`;
}

/** The jq query kwok evaluates on a pod: "true" for the emulated kubelet's pods. */
const OWNED_BY_KUBELET = `.metadata.namespace | startswith("${KUBELET_NAMESPACE_PREFIX}")`;

/**
 * kwok only allocates the address, as a CNI plugin would while the kubelet creates the pod
 * sandbox: the host IP as kwok's `pod-ready` stage computes it, phase left `Pending`.
 */
const POD_NETWORK_STAGE = {
  apiVersion: "kwok.x-k8s.io/v1alpha1",
  kind: "Stage",
  metadata: { name: "emulated-kubelet-pod-network" },
  spec: {
    resourceRef: { apiGroup: "v1", kind: "Pod" },
    selector: {
      matchExpressions: [
        { key: OWNED_BY_KUBELET, operator: "In", values: ["true"] },
        { key: ".metadata.deletionTimestamp", operator: "DoesNotExist" },
        { key: ".status.podIP", operator: "DoesNotExist" },
      ],
    },
    next: {
      statusTemplate: [
        "{{ $hostIPs := NodeIPsWith .spec.nodeName }}",
        "{{ with $hostIPs }}",
        "hostIP: {{ index . 0 | Quote }}",
        "hostIPs:",
        "{{ range . }}",
        "- ip: {{ . | Quote }}",
        "{{ end }}",
        "{{ end }}",
        // PodIP, not PodIPsWith: kwok's --cidr pool, not the node's podCIDR.
        "{{ with PodIP }}",
        "podIP: {{ . | Quote }}",
        "podIPs:",
        "- ip: {{ . | Quote }}",
        "{{ end }}",
        "",
      ].join("\n"),
    },
  },
};

interface StageDocument {
  kind?: string;
  spec?: {
    resourceRef?: { kind?: string };
    selector?: { matchExpressions?: { key: string; operator: string; values?: string[] }[] };
  };
}

/**
 * kwok's stage configuration for the split: `defaults` (kwok's own Stage documents, as
 * `tests/cluster/build.sh` collects them) with every pod stage limited to pods that are
 * not the kubelet's, plus the stage giving the kubelet's pods their IP.
 */
export function kwokStages(defaults: string): string {
  const stages = parseAllDocuments(defaults).map((doc) => doc.toJS() as StageDocument)
    .filter((stage) => stage?.kind === "Stage");
  for (const stage of stages) {
    if (stage.spec?.resourceRef?.kind !== "Pod") continue;
    const selector = stage.spec.selector ??= {};
    (selector.matchExpressions ??= []).push({
      key: OWNED_BY_KUBELET,
      operator: "NotIn",
      values: ["true"],
    });
  }
  return [...stages, POD_NETWORK_STAGE].map((stage) => stringify(stage)).join("---\n");
}
