/**
 * Nodes as the primary's decision sees them: whether the node a pod is bound
 * to is Ready (its `Ready` condition `True`) and schedulable (not
 * `spec.unschedulable`, which `kubectl cordon` and `kubectl drain` set). The
 * operator caches nodes reduced to those two facts ({@linkcode slimNode}), so
 * a large fleet's node objects (images, addresses, capacity) cost no memory,
 * and only a change of them reconciles the clusters with pods on the node.
 *
 * @module
 */
import type { V1Node, V1Pod } from "@kubernetes/client-node";

/** What the decision reads of a node. */
export interface NodeState {
  ready: boolean;
  unschedulable: boolean;
  /** The Ready condition as reported, e.g. `Unknown (NodeStatusUnknown)`. */
  condition: string;
}

/** The states of the nodes the cluster's pods are bound to, by node name. */
export type NodeStates = ReadonlyMap<string, NodeState>;

/** A node's state; a node with no Ready condition yet counts as Ready (it reported nothing bad). */
export function nodeState(node: V1Node): NodeState {
  const ready = node.status?.conditions?.find((c) => c.type === "Ready");
  return {
    ready: ready === undefined || ready.status === "True",
    unschedulable: node.spec?.unschedulable === true,
    condition: ready ? `${ready.status}${ready.reason ? ` (${ready.reason})` : ""}` : "none",
  };
}

/**
 * The node reduced to what {@linkcode nodeState} reads, for the informer's store; the Ready
 * condition keeps no heartbeat time, so an unchanged node compares equal.
 */
export function slimNode(node: V1Node): V1Node {
  const ready = node.status?.conditions?.find((c) => c.type === "Ready");
  return {
    metadata: {
      name: node.metadata?.name,
      uid: node.metadata?.uid,
      resourceVersion: node.metadata?.resourceVersion,
    },
    spec: node.spec?.unschedulable ? { unschedulable: true } : {},
    status: ready
      ? { conditions: [{ type: "Ready", status: ready.status, reason: ready.reason }] }
      : {},
  };
}

/** The node `pod` is bound to and its state, if the pod is bound and the node known. */
export function podNode(
  nodes: NodeStates | undefined,
  pod: V1Pod | undefined,
): { name: string; state: NodeState } | undefined {
  const name = pod?.spec?.nodeName;
  const state = name === undefined ? undefined : nodes?.get(name);
  return state && { name: name!, state };
}
