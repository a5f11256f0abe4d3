/**
 * What this build is: dbop's version and the Kubernetes release it is built
 * and tested against (the local control plane's version).
 *
 * @module
 */

/** dbop's version. */
export const VERSION = "0.1.0";

/** The Kubernetes release the tests run against (tests/cluster/build.sh). */
export const KUBERNETES_VERSION = "v1.36.3";

/** The client library whose generated API types dbop uses. */
export const CLIENT_NODE_VERSION = "2.0.1";

/** One line for `dbop version` and `--version`. */
export function versionLine(): string {
  return `dbop ${VERSION} (Kubernetes API ${KUBERNETES_VERSION}, @kubernetes/client-node ${CLIENT_NODE_VERSION}, Deno ${Deno.version.deno})`;
}
