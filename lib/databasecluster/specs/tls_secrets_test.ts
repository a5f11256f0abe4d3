import assert from "node:assert/strict";
import { testCluster } from "../testdata/clusters.ts";
import { decodeDataValue } from "./common.ts";
import {
  buildCaSecret,
  buildServerSecret,
  issuesCertificates,
  readCertificateAuthority,
  readServerCertificate,
  serverCertificateDnsNames,
  serverTlsSecretName,
} from "./tls_secrets.ts";

const CA = { certificate: "CA-CERT", privateKey: "CA-KEY" };
const SERVER = { certificate: "SERVER-CERT", privateKey: "SERVER-KEY", caCertificate: "CA-CERT" };

Deno.test("issuesCertificates() is true only with TLS on and no Secret of the user's", () => {
  assert.equal(issuesCertificates(testCluster()), true);
  assert.equal(issuesCertificates(testCluster({ security: { tls: { enabled: false } } })), false);
  const own = testCluster({ security: { tls: { enabled: true, secretName: "my-tls" } } });
  assert.equal(issuesCertificates(own), false);
  assert.equal(serverTlsSecretName(own), "my-tls");
  assert.equal(serverTlsSecretName(testCluster()), "pg-server");
  assert.equal(
    serverTlsSecretName(testCluster({ security: { tls: { enabled: false } } })),
    undefined,
  );
});

Deno.test("buildCaSecret() and buildServerSecret() are kubernetes.io/tls Secrets", () => {
  const ca = buildCaSecret(testCluster(), CA);
  assert.equal(ca.metadata?.name, "pg-ca");
  assert.equal(ca.type, "kubernetes.io/tls");
  assert.equal(ca.metadata?.labels?.["app.kubernetes.io/component"], "tls");
  assert.equal(decodeDataValue(ca, "tls.crt"), "CA-CERT");
  assert.equal(decodeDataValue(ca, "ca.crt"), "CA-CERT");
  const server = buildServerSecret(testCluster(), SERVER);
  assert.equal(server.metadata?.name, "pg-server");
  assert.deepEqual(Object.keys(server.data ?? {}).sort(), ["ca.crt", "tls.crt", "tls.key"]);
});

Deno.test("readCertificateAuthority() and readServerCertificate() round-trip the builders", () => {
  assert.deepEqual(readCertificateAuthority(buildCaSecret(testCluster(), CA)), CA);
  assert.deepEqual(readServerCertificate(buildServerSecret(testCluster(), SERVER)), SERVER);
  assert.equal(readCertificateAuthority(undefined), undefined);
  assert.equal(readServerCertificate({ data: { "tls.crt": btoa("x") } }), undefined);
});

Deno.test("serverCertificateDnsNames() covers the Services in the cluster's namespace", () => {
  const names = serverCertificateDnsNames(testCluster());
  assert.ok(names.includes("pg-rw.shop.svc"));
  assert.ok(names.includes("pg-rw"));
});
