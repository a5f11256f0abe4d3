import assert from "node:assert/strict";
import * as x509 from "@peculiar/x509";
import {
  CA_VALIDITY_DAYS,
  certificateDnsNames,
  issueClusterCa,
  issueServerCertificate,
  needsRenewal,
  RENEW_BEFORE_MS,
  renewalTime,
} from "./tls.ts";

const DAY = 24 * 60 * 60 * 1000;
const NOW = new Date("2025-03-01T12:00:00Z");
const NAMES = ["pg-rw", "pg-rw.shop.svc", "*.pg-headless.shop.svc"];

const ca = await issueClusterCa("shop/pg", NOW);
const server = await issueServerCertificate(ca, NAMES, { now: NOW });

async function keyMatches(certPem: string, keyPem: string): Promise<boolean> {
  const algorithm = { name: "ECDSA", namedCurve: "P-256" };
  const key = await crypto.subtle.importKey(
    "pkcs8",
    x509.PemConverter.decodeFirst(keyPem),
    algorithm,
    false,
    ["sign"],
  );
  const data = new TextEncoder().encode("proof of possession");
  const signature = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key, data);
  const publicKey = await new x509.X509Certificate(certPem).publicKey.export(
    { ...algorithm, hash: "SHA-256" },
    ["verify"],
  );
  return await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, publicKey, signature, data);
}

Deno.test("issueClusterCa() issues a self-signed CA certificate valid from now", async () => {
  const certificate = new x509.X509Certificate(ca.certificate);
  assert.equal(certificate.subject, "CN=shop/pg CA, O=dbop");
  assert.equal(certificate.issuer, certificate.subject);
  assert.equal(certificate.getExtension(x509.BasicConstraintsExtension)?.ca, true);
  assert.ok(certificate.notBefore.getTime() <= NOW.getTime());
  assert.equal(certificate.notAfter.getTime(), NOW.getTime() + CA_VALIDITY_DAYS * DAY);
  assert.ok(await certificate.verify({ signatureOnly: true }));
  assert.match(ca.privateKey, /^-----BEGIN PRIVATE KEY-----/);
  assert.ok(await keyMatches(ca.certificate, ca.privateKey));
});

Deno.test("issueServerCertificate() signs a server certificate for the DNS names", async () => {
  const certificate = new x509.X509Certificate(server.certificate);
  const caCertificate = new x509.X509Certificate(ca.certificate);
  assert.ok(await certificate.verify({ publicKey: caCertificate, signatureOnly: true }));
  assert.equal(certificate.issuer, caCertificate.subject);
  assert.equal(certificate.subject, "CN=pg-rw");
  assert.deepEqual(certificateDnsNames(server.certificate), NAMES);
  assert.equal(certificate.getExtension(x509.BasicConstraintsExtension)?.ca, false);
  const usages = certificate.getExtension(x509.ExtendedKeyUsageExtension)?.usages;
  assert.deepEqual([...(usages ?? [])], [x509.ExtendedKeyUsage.serverAuth]);
  assert.equal(server.caCertificate, ca.certificate);
  assert.ok(await keyMatches(server.certificate, server.privateKey));
});

Deno.test("issueServerCertificate() never outlives its CA", async () => {
  const late = new Date(NOW.getTime() + (CA_VALIDITY_DAYS - 10) * DAY);
  const issued = await issueServerCertificate(ca, NAMES, { now: late });
  const notAfter = new x509.X509Certificate(issued.certificate).notAfter;
  assert.equal(notAfter.getTime(), new x509.X509Certificate(ca.certificate).notAfter.getTime());
});

Deno.test("issueServerCertificate() refuses an empty name list and a broken CA", async () => {
  await assert.rejects(issueServerCertificate(ca, [], { now: NOW }), /no DNS names/);
  await assert.rejects(
    issueServerCertificate({ ...ca, certificate: "garbage" }, NAMES, { now: NOW }),
    /invalid CA certificate/,
  );
});

Deno.test("needsRenewal() is false for a fresh certificate and true within 30 days of expiry", () => {
  const expiry = new x509.X509Certificate(server.certificate).notAfter.getTime();
  assert.equal(needsRenewal(server.certificate, NOW), false);
  assert.equal(needsRenewal(server.certificate, new Date(expiry - 31 * DAY)), false);
  assert.equal(needsRenewal(server.certificate, new Date(expiry - 29 * DAY)), true);
  assert.equal(needsRenewal(server.certificate, new Date(expiry + DAY)), true);
  assert.equal(needsRenewal(server.certificate, NOW, { before: 400 * DAY }), true);
});

Deno.test("needsRenewal() is true when a DNS name is missing or the CA changed", async () => {
  assert.equal(needsRenewal(server.certificate, NOW, { dnsNames: NAMES.slice(1) }), false);
  assert.equal(needsRenewal(server.certificate, NOW, { dnsNames: [...NAMES, "pg-ro"] }), true);
  assert.equal(needsRenewal(server.certificate, NOW, { ca: ca.certificate }), false);
  const otherCa = await issueClusterCa("shop/pg", NOW);
  assert.equal(needsRenewal(server.certificate, NOW, { ca: otherCa.certificate }), true);
});

Deno.test("needsRenewal() is true for an unreadable certificate", () => {
  assert.equal(needsRenewal("not a certificate", NOW), true);
  assert.equal(needsRenewal("", NOW), true);
});

Deno.test("renewalTime() is the renewal margin ahead of expiry", () => {
  const expiry = new x509.X509Certificate(server.certificate).notAfter.getTime();
  assert.equal(renewalTime(server.certificate)?.getTime(), expiry - RENEW_BEFORE_MS);
  assert.equal(renewalTime("garbage"), undefined);
});
