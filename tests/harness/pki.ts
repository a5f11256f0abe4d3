/**
 * Test PKI for the local control plane: a CA, the API server's serving
 * certificate, client certificates per component, and the service-account
 * signing key. Made with the `openssl` CLI because only tests need it.
 *
 * @module
 */
import { KUBERNETES_SERVICE_IP } from "./kubelet/network.ts";

/** Paths of the PEM files written by {@linkcode writePki}. */
export interface Pki {
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
  clients: Record<ClientName, { cert: string; key: string }>;
}

/** The identities that talk to the API server. */
export type ClientName = "admin" | "controller-manager" | "scheduler" | "kwok";

const CLIENT_SUBJECTS: Record<ClientName, string> = {
  "admin": "/O=system:masters/CN=kubernetes-admin",
  "controller-manager": "/CN=system:kube-controller-manager",
  "scheduler": "/CN=system:kube-scheduler",
  // kwok writes node and pod status for fake kubelets: it needs more than any bootstrap role grants.
  "kwok": "/O=system:masters/CN=kwok-controller",
};

async function openssl(dir: string, args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", {
    args,
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  if (!out.success) {
    throw new Error(
      `openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
}

async function signLeaf(
  dir: string,
  name: string,
  subject: string,
  extensions: string,
): Promise<{ cert: string; key: string }> {
  await Deno.writeTextFile(`${dir}/${name}.ext`, extensions);
  await openssl(dir, [
    "req",
    "-new",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
    "-subj",
    subject,
  ]);
  await openssl(dir, [
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "30",
    "-sha256",
    "-extfile",
    `${name}.ext`,
    "-out",
    `${name}.crt`,
  ]);
  return { cert: `${dir}/${name}.crt`, key: `${dir}/${name}.key` };
}

/** Writes a fresh CA, server and client certificates and the service-account key pair into `dir`. */
export async function writePki(dir: string): Promise<Pki> {
  await Deno.mkdir(dir, { recursive: true });
  await openssl(dir, [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-subj",
    "/CN=dbop-test-ca",
    "-days",
    "30",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
  ]);
  const sans = [
    "IP:127.0.0.1",
    `IP:${KUBERNETES_SERVICE_IP}`,
    "DNS:localhost",
    "DNS:kubernetes",
    "DNS:kubernetes.default",
    "DNS:kubernetes.default.svc",
    "DNS:kubernetes.default.svc.cluster.local",
  ];
  const server = await signLeaf(
    dir,
    "apiserver",
    "/CN=kube-apiserver",
    `subjectAltName=${
      sans.join(",")
    }\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n`,
  );
  const clients = {} as Pki["clients"];
  for (const [name, subject] of Object.entries(CLIENT_SUBJECTS) as [ClientName, string][]) {
    clients[name] = await signLeaf(
      dir,
      `client-${name}`,
      subject,
      "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n",
    );
  }
  await openssl(dir, [
    "genpkey",
    "-algorithm",
    "RSA",
    "-pkeyopt",
    "rsa_keygen_bits:2048",
    "-out",
    "sa.key",
  ]);
  await openssl(dir, ["pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub"]);
  return {
    caCert: `${dir}/ca.crt`,
    caKey: `${dir}/ca.key`,
    serverCert: server.cert,
    serverKey: server.key,
    serviceAccountKey: `${dir}/sa.key`,
    serviceAccountPub: `${dir}/sa.pub`,
    clients,
  };
}

/** Renders a kubeconfig that authenticates with a client certificate. */
export async function kubeconfigFor(
  pki: Pki,
  client: ClientName,
  server: string,
): Promise<string> {
  const b64 = async (path: string) => btoa(await Deno.readTextFile(path));
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: dbop-test",
    "  cluster:",
    `    server: ${server}`,
    `    certificate-authority-data: ${await b64(pki.caCert)}`,
    "users:",
    `- name: ${client}`,
    "  user:",
    `    client-certificate-data: ${await b64(pki.clients[client].cert)}`,
    `    client-key-data: ${await b64(pki.clients[client].key)}`,
    "contexts:",
    "- name: dbop-test",
    "  context:",
    "    cluster: dbop-test",
    `    user: ${client}`,
    "current-context: dbop-test",
    "",
  ].join("\n");
}
