/**
 * The libpq `sslmode` dbop's own clients (replicas towards the primary, the
 * backup Job) use: one rule, so the two cannot drift apart.
 *
 * @module
 */
import type { DatabaseCluster } from "../../api/mod.ts";
import { issuesCertificates } from "./tls_secrets.ts";

/** A libpq `sslmode` dbop sets. */
export type SslMode = "disable" | "require" | "verify-ca";

/**
 * The libpq sslmode towards the cluster's server: off without TLS; our CA is verified
 * (`verify-ca`); a user's certificate is only required, as dbop holds no CA to check it.
 */
export function clientSslMode(cluster: DatabaseCluster): SslMode {
  if (!cluster.spec.security.tls.enabled) return "disable";
  return issuesCertificates(cluster) ? "verify-ca" : "require";
}
