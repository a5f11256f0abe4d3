/**
 * Builders of the TLS Secrets dbop issues when `security.tls` is enabled without
 * a `secretName`: `<c>-ca` (the per-cluster CA, with its key) and `<c>-server`
 * (the server certificate the instances mount), both `kubernetes.io/tls` with
 * keys `tls.crt`, `tls.key` and `ca.crt`; and readers that take the material
 * back out of the live Secrets, so the reconciler can check it for renewal.
 *
 * @module
 */
import type { V1Secret } from "@kubernetes/client-node";
import type { DatabaseCluster } from "../../api/mod.ts";
import { caSecretName, serverDnsNames, serverSecretName } from "../names.ts";
import type { CertificateAuthority, ServerCertificate } from "../tls.ts";
import {
  childMetadata,
  clusterName,
  clusterNamespace,
  decodeDataValue,
  encodeData,
} from "./common.ts";

/** Whether dbop issues the CA and server certificate (TLS on, no Secret of the user's). */
export function issuesCertificates(cluster: DatabaseCluster): boolean {
  const tls = cluster.spec.security.tls;
  return tls.enabled && tls.secretName === undefined;
}

/** The Secret the instances read their certificate from, or undefined without TLS. */
export function serverTlsSecretName(cluster: DatabaseCluster): string | undefined {
  const tls = cluster.spec.security.tls;
  if (!tls.enabled) return undefined;
  return tls.secretName ?? serverSecretName(clusterName(cluster));
}

/** The DNS names the server certificate must cover. */
export function serverCertificateDnsNames(cluster: DatabaseCluster): string[] {
  return serverDnsNames(clusterName(cluster), clusterNamespace(cluster));
}

function tlsSecret(
  cluster: DatabaseCluster,
  secret: { name: string; data: { "tls.crt": string; "tls.key": string; "ca.crt": string } },
): V1Secret {
  const { name, data } = secret;
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: childMetadata(cluster, { name: name, component: "tls" }),
    type: "kubernetes.io/tls",
    data: encodeData(data),
  };
}

/** Secret `<c>-ca`: the CA certificate (as tls.crt and ca.crt) and its private key. */
export function buildCaSecret(cluster: DatabaseCluster, ca: CertificateAuthority): V1Secret {
  return tlsSecret(cluster, {
    name: caSecretName(clusterName(cluster)),
    data: { "tls.crt": ca.certificate, "tls.key": ca.privateKey, "ca.crt": ca.certificate },
  });
}

/** Secret `<c>-server`: the server certificate, its key and the CA certificate. */
export function buildServerSecret(cluster: DatabaseCluster, server: ServerCertificate): V1Secret {
  return tlsSecret(cluster, {
    name: serverSecretName(clusterName(cluster)),
    data: {
      "tls.crt": server.certificate,
      "tls.key": server.privateKey,
      "ca.crt": server.caCertificate,
    },
  });
}

/** The CA held by a live `<c>-ca` Secret, or undefined when it is missing or incomplete. */
export function readCertificateAuthority(
  secret: V1Secret | undefined,
): CertificateAuthority | undefined {
  const certificate = decodeDataValue(secret, "tls.crt");
  const privateKey = decodeDataValue(secret, "tls.key");
  if (!certificate || !privateKey) return undefined;
  return { certificate, privateKey };
}

/** The certificate held by a live `<c>-server` Secret, or undefined when it is missing or incomplete. */
export function readServerCertificate(secret: V1Secret | undefined): ServerCertificate | undefined {
  const certificate = decodeDataValue(secret, "tls.crt");
  const privateKey = decodeDataValue(secret, "tls.key");
  const caCertificate = decodeDataValue(secret, "ca.crt");
  if (!certificate || !privateKey || !caCertificate) return undefined;
  return { certificate, privateKey, caCertificate };
}
