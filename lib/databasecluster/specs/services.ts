/**
 * Builders of the Services: `<c>-rw` (the primary, by the pod role label;
 * a LoadBalancer with `network.externalAccess`), `<c>-ro` (the standbys only),
 * `<c>-r` (any instance) and `<c>-headless` (the StatefulSet's, giving each pod
 * a DNS name). All expose the PostgreSQL port under the name `postgresql`.
 *
 * @module
 */
import type { V1Service, V1ServicePort } from "@kubernetes/client-node";
import type { DatabaseCluster } from "../../api/mod.ts";
import {
  headlessServiceName,
  instanceSelector,
  POSTGRESQL_PORT_NAME,
  readOnlyServiceName,
  readServiceName,
  readWriteServiceName,
  ROLES,
  roleSelector,
} from "../names.ts";
import { childMetadata, clusterName } from "./common.ts";

/** The one port of every Service; protocol is explicit because it is part of the list's key. */
function ports(cluster: DatabaseCluster): V1ServicePort[] {
  return [{
    name: POSTGRESQL_PORT_NAME,
    port: cluster.spec.network.port,
    targetPort: POSTGRESQL_PORT_NAME,
    protocol: "TCP",
  }];
}

function service(
  cluster: DatabaseCluster,
  child: { name: string; spec: NonNullable<V1Service["spec"]> },
): V1Service {
  const { name, spec } = child;
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: childMetadata(cluster, { name: name, component: "database" }),
    spec: { ...spec, ports: ports(cluster) },
  };
}

/** Service `<c>-rw`: the primary; a LoadBalancer when `network.externalAccess` is set. */
export function buildReadWriteService(cluster: DatabaseCluster): V1Service {
  const name = clusterName(cluster);
  return service(cluster, {
    name: readWriteServiceName(name),
    spec: {
      type: cluster.spec.network.externalAccess ? "LoadBalancer" : "ClusterIP",
      selector: roleSelector(name, ROLES.primary),
    },
  });
}

/** Service `<c>-ro`: the standbys only (no endpoints with a single instance). */
export function buildReadOnlyService(cluster: DatabaseCluster): V1Service {
  const name = clusterName(cluster);
  return service(cluster, {
    name: readOnlyServiceName(name),
    spec: {
      type: "ClusterIP",
      selector: roleSelector(name, ROLES.replica),
    },
  });
}

/** Service `<c>-r`: any instance, primary or standby. */
export function buildReadService(cluster: DatabaseCluster): V1Service {
  const name = clusterName(cluster);
  return service(cluster, {
    name: readServiceName(name),
    spec: {
      type: "ClusterIP",
      selector: instanceSelector(name),
    },
  });
}

/**
 * Service `<c>-headless`: the StatefulSet's governing Service. It publishes pods before
 * they are ready, so an instance has its DNS name while it starts or recovers.
 */
export function buildHeadlessService(cluster: DatabaseCluster): V1Service {
  const name = clusterName(cluster);
  return service(cluster, {
    name: headlessServiceName(name),
    spec: {
      type: "ClusterIP",
      clusterIP: "None",
      publishNotReadyAddresses: true,
      selector: instanceSelector(name),
    },
  });
}

/** The four Services, in a stable order. */
export function buildServices(cluster: DatabaseCluster): V1Service[] {
  return [
    buildReadWriteService(cluster),
    buildReadOnlyService(cluster),
    buildReadService(cluster),
    buildHeadlessService(cluster),
  ];
}
