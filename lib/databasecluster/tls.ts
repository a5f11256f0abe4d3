/**
 * TLS material dbop issues when `security.tls.enabled` names no Secret of the
 * user's: a per-cluster CA (Secret `<c>-ca`) and a server certificate for the
 * Service DNS names signed by it (Secret `<c>-server`), renewed before expiry.
 * Keys are ECDSA P-256 from Web Crypto; `@peculiar/x509` does the DER. Every
 * function is pure except for the random keys and serial numbers: time is an
 * input, never read from the clock.
 *
 * @module
 */
import * as x509 from "@peculiar/x509";

/** A CA as stored in `<c>-ca`: PEM certificate and PEM (PKCS#8) private key. */
export interface CertificateAuthority {
  certificate: string;
  privateKey: string;
}

/** A server certificate as stored in `<c>-server`, with the CA certificate that signed it. */
export interface ServerCertificate {
  certificate: string;
  privateKey: string;
  caCertificate: string;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** How long an issued CA is valid: ten years. */
export const CA_VALIDITY_DAYS = 3650;

/** How long an issued server certificate is valid: one year. */
export const SERVER_VALIDITY_DAYS = 365;

/** Default margin before expiry at which a certificate is renewed: 30 days. */
export const RENEW_BEFORE_MS = 30 * DAY_MS;

/** Certificates start an hour in the past so that a peer whose clock lags still accepts them. */
const BACKDATE_MS = 60 * 60 * 1000;

const SIGNING = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

async function generateKeys(): Promise<CryptoKeyPair> {
  return await crypto.subtle.generateKey(SIGNING, true, ["sign", "verify"]) as CryptoKeyPair;
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await crypto.subtle.exportKey("pkcs8", key), "PRIVATE KEY");
}

/** A random positive 128-bit serial number in hex, as RFC 5280 recommends. */
function serialNumber(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] &= 0x7f;
  bytes[0] |= 0x01;
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

function parse(pem: string): x509.X509Certificate | undefined {
  try {
    return new x509.X509Certificate(pem);
  } catch {
    return undefined;
  }
}

/** What renewal decisions read from a certificate. */
interface CertificateFacts {
  notAfter: number;
  dnsNames: string[];
  subjectKeyId?: string;
  authorityKeyId?: string;
}

// Parsing X.509 was most of a reconcile's CPU, and every reconcile reads the same
// PEMs again: each is parsed once. Cleared when full, so rotated certificates
// cannot make it grow without bound.
const FACTS_LIMIT = 4096;
const factsByPem = new Map<string, CertificateFacts | null>();

function factsOf(pem: string): CertificateFacts | undefined {
  let facts = factsByPem.get(pem);
  if (facts === undefined) {
    const certificate = parse(pem);
    facts = certificate
      ? {
        notAfter: certificate.notAfter.getTime(),
        dnsNames: certificate.getExtension(x509.SubjectAlternativeNameExtension)?.names.items
          .filter((name) => name.type === "dns").map((name) => name.value) ?? [],
        subjectKeyId: certificate.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId,
        authorityKeyId: certificate.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId,
      }
      : null;
    if (factsByPem.size >= FACTS_LIMIT) factsByPem.clear();
    factsByPem.set(pem, facts);
  }
  return facts ?? undefined;
}

/** Issues a self-signed CA named after `name` (e.g. `shop/pg-main`), valid from `now`. */
export async function issueClusterCa(
  name: string,
  now: Date,
  options: { validityDays?: number } = {},
): Promise<CertificateAuthority> {
  const keys = await generateKeys();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: [{ CN: [`${name} CA`] }, { O: ["dbop"] }],
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + (options.validityDays ?? CA_VALIDITY_DAYS) * DAY_MS),
    keys,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return {
    certificate: certificate.toString("pem"),
    privateKey: await privateKeyPem(keys.privateKey),
  };
}

/**
 * Issues a server certificate for `dnsNames` (the first is also the subject's CN),
 * signed by `ca`, valid from `now` for a year but never past the CA's own expiry.
 */
export async function issueServerCertificate(
  ca: CertificateAuthority,
  dnsNames: readonly string[],
  options: { now: Date; validityDays?: number },
): Promise<ServerCertificate> {
  if (dnsNames.length === 0) throw new Error("Cannot issue a server certificate: no DNS names");
  const caCertificate = parse(ca.certificate);
  if (!caCertificate) throw new Error("Cannot issue a server certificate: invalid CA certificate");
  const signingKey = await crypto.subtle.importKey(
    "pkcs8",
    x509.PemConverter.decodeFirst(ca.privateKey),
    { name: SIGNING.name, namedCurve: SIGNING.namedCurve },
    false,
    ["sign"],
  );
  const keys = await generateKeys();
  const validity = (options.validityDays ?? SERVER_VALIDITY_DAYS) * DAY_MS;
  const notAfter = Math.min(options.now.getTime() + validity, caCertificate.notAfter.getTime());
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: [{ CN: [dnsNames[0]] }],
    issuer: caCertificate.subjectName,
    notBefore: new Date(options.now.getTime() - BACKDATE_MS),
    notAfter: new Date(notAfter),
    signingKey,
    publicKey: keys.publicKey,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(
        dnsNames.map((value) => ({ type: "dns" as const, value })),
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCertificate, false),
    ],
  });
  return {
    certificate: certificate.toString("pem"),
    privateKey: await privateKeyPem(keys.privateKey),
    caCertificate: ca.certificate,
  };
}

/** When a certificate is due for renewal (`before` ahead of its expiry), or undefined if unreadable. */
export function renewalTime(
  certPem: string,
  options: { before?: number } = {},
): Date | undefined {
  const facts = factsOf(certPem);
  if (!facts) return undefined;
  return new Date(facts.notAfter - (options.before ?? RENEW_BEFORE_MS));
}

/** The DNS names a certificate's subjectAltName lists. */
export function certificateDnsNames(certPem: string): string[] {
  return [...factsOf(certPem)?.dnsNames ?? []];
}

/**
 * Whether a certificate must be issued again: it is unreadable, expires within
 * `before` (30 days by default) of `now`, does not cover every one of `dnsNames`, or
 * was not signed by the CA certificate `ca` (the CA was replaced).
 */
export function needsRenewal(
  certPem: string,
  now: Date,
  options: { before?: number; dnsNames?: readonly string[]; ca?: string } = {},
): boolean {
  const facts = factsOf(certPem);
  if (!facts) return true;
  if (now.getTime() >= facts.notAfter - (options.before ?? RENEW_BEFORE_MS)) return true;
  if (options.dnsNames) {
    const covered = new Set(facts.dnsNames);
    if (!options.dnsNames.every((name) => covered.has(name))) return true;
  }
  if (options.ca !== undefined) {
    const caKeyId = factsOf(options.ca)?.subjectKeyId;
    if (caKeyId === undefined || caKeyId !== facts.authorityKeyId) return true;
  }
  return false;
}
