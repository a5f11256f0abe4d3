/**
 * What the builders share: object metadata with the common labels, the
 * in-container paths the scripts and the pod specs agree on, images, base64
 * encoding of Secret data, and quantities. Builders set no
 * ownerReference: the reconciler adds the controller reference to each object
 * before applying it, so the builders stay functions of the spec alone (and
 * `dbop render` prints the same objects with no cluster to own them).
 *
 * @module
 */
import type { V1ObjectMeta, V1ResourceRequirements } from "@kubernetes/client-node";
import type { DatabaseCluster } from "../../api/mod.ts";
import { VERSION } from "../../version.ts";
import { commonLabels, type Component } from "../names.ts";

/** Paths inside the containers; the scripts and configuration files refer to them. */
export const PATHS = {
  /** Mount of the data volume. */
  dataVolume: "/var/lib/postgresql/data",
  /** PGDATA: a subdirectory, since a volume's root may hold `lost+found` and initdb wants it empty. */
  pgdata: "/var/lib/postgresql/data/pgdata",
  /**
   * In the instances, the instance manager's own directory (an emptyDir): it writes
   * `config/` and `tls/` below it from the API server.
   */
  instanceFiles: "/etc/dbop",
  /** The ConfigMap's postgresql.conf, pg_hba.conf and the scripts (the backup Job mounts it). */
  config: "/etc/dbop/config",
  /** The server certificate: tls.crt, tls.key (and ca.crt when dbop issued it). */
  tls: "/etc/dbop/tls",
  /** Unix socket directory; also where start.sh writes the replication passfile. */
  socket: "/var/run/postgresql",
  /** Mount of the backup volume in the backup Job. */
  backups: "/backups",
} as const;

/** Keys of the ConfigMap `<c>-config`. */
export const CONFIG_KEYS = {
  postgresqlConf: "postgresql.conf",
  pgHba: "pg_hba.conf",
  pgIdent: "pg_ident.conf",
  backup: "backup.sh",
} as const;

/** The official image's `postgres` user and group, which the containers run as. */
export const POSTGRES_UID = 999;

/** dbop's own image, whose binary the instances run: this version's release. */
export const DEFAULT_INSTANCE_IMAGE = `ghcr.io/dbop/dbop:${VERSION}`;

/** The Prometheus community's PostgreSQL exporter, pinned. */
export const EXPORTER_IMAGE = "quay.io/prometheuscommunity/postgres-exporter:v0.17.1";

/** The PostgreSQL image: `spec.image`, else the official `postgres:<version>`. */
export function postgresImage(cluster: DatabaseCluster): string {
  return cluster.spec.image ?? `postgres:${cluster.spec.version}`;
}

/** The cluster's name. */
export function clusterName(cluster: DatabaseCluster): string {
  return cluster.metadata.name;
}

/** The cluster's namespace; children live in it, so it must be known. */
export function clusterNamespace(cluster: DatabaseCluster): string {
  const namespace = cluster.metadata.namespace;
  if (!namespace) {
    throw new Error(`Cannot build the children of "${cluster.metadata.name}": no namespace`);
  }
  return namespace;
}

/**
 * Labels and annotations: `inherited` first, then `own` over them (the schema refuses
 * inherited keys dbop sets, so nothing is replaced in practice). Absent when both are empty.
 */
export function mergedMetadata(
  inherited: { labels?: Record<string, string>; annotations?: Record<string, string> } = {},
  own: { labels?: Record<string, string>; annotations?: Record<string, string> } = {},
): Pick<V1ObjectMeta, "labels" | "annotations"> {
  const labels = { ...inherited.labels, ...own.labels };
  const annotations = { ...inherited.annotations, ...own.annotations };
  return {
    ...(Object.keys(labels).length > 0 ? { labels } : {}),
    ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
  };
}

/**
 * `metadata` of a child: name, the cluster's namespace, the common labels and
 * `spec.inheritedMetadata`.
 */
export function childMetadata(
  cluster: DatabaseCluster,
  child: { name: string; component: Component; annotations?: Record<string, string> },
): V1ObjectMeta {
  const { name, component, annotations } = child;
  return {
    name,
    namespace: clusterNamespace(cluster),
    ...mergedMetadata(cluster.spec.inheritedMetadata, {
      labels: commonLabels(clusterName(cluster), component),
      annotations,
    }),
  };
}

/** Base64 of the UTF-8 bytes of each value, as Secret `data` holds them. */
export function encodeData(values: Record<string, string>): Record<string, string> {
  const encoder = new TextEncoder();
  return Object.fromEntries(
    Object.entries(values).map(([key, value]) => {
      const bytes = encoder.encode(value);
      let binary = "";
      for (const byte of bytes) binary += String.fromCharCode(byte);
      return [key, btoa(binary)];
    }),
  );
}

/** The UTF-8 text of one key of a Secret's `data`, or undefined when absent. */
export function decodeDataValue(
  secret: { data?: Record<string, string> } | undefined,
  key: string,
): string | undefined {
  const encoded = secret?.data?.[key];
  if (encoded === undefined) return undefined;
  return new TextDecoder().decode(Uint8Array.from(atob(encoded), (char) => char.charCodeAt(0)));
}

const NANO = 10n ** 9n;
const BINARY: Record<string, bigint> = {
  Ki: 2n ** 10n,
  Mi: 2n ** 20n,
  Gi: 2n ** 30n,
  Ti: 2n ** 40n,
  Pi: 2n ** 50n,
  Ei: 2n ** 60n,
};
const DECIMAL: Record<string, number> = {
  n: -9,
  u: -6,
  m: -3,
  "": 0,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};

/** A decimal number times 10^exponent, in billionths (rounded up, as Kubernetes does). */
function nanos(number: string, exponent: number): bigint {
  const [whole, fraction = ""] = number.split(".");
  const digits = BigInt((whole || "0") + fraction);
  const scale = exponent + 9 - fraction.length;
  if (scale >= 0) return digits * 10n ** BigInt(scale);
  const divisor = 10n ** BigInt(-scale);
  return (digits + divisor - 1n) / divisor;
}

function decimalForm(value: bigint, exponentForm: boolean): string {
  if (value === 0n) return "0";
  let exponent = -9;
  while (exponent < 18 && value % 10n ** BigInt(exponent + 12) === 0n) {
    exponent += 3;
  }
  const mantissa = value / 10n ** BigInt(exponent + 9);
  if (exponentForm) return exponent === 0 ? `${mantissa}` : `${mantissa}e${exponent}`;
  const suffix = Object.keys(DECIMAL).find((key) => DECIMAL[key] === exponent);
  return `${mantissa}${suffix}`;
}

/** A quantity read exactly: its value in billionths, and the suffix it was written with. */
interface ReadQuantity {
  nanos: bigint;
  suffix: string;
}

/** Reads a Kubernetes quantity with no floating point, so large and fractional values stay exact. */
function readQuantity(quantity: string | number): ReadQuantity {
  const text = String(quantity).trim();
  const match = /^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][-+]?[0-9]+)?$/
    .exec(text);
  if (!match) throw new Error(`Cannot read quantity "${text}"`);
  const [, number, suffix = ""] = match;
  if (suffix in BINARY) return { nanos: nanos(number, 0) * BINARY[suffix], suffix };
  const exponent = /^[eE]/.test(suffix) ? Number(suffix.slice(1)) : DECIMAL[suffix];
  return { nanos: nanos(number, exponent), suffix };
}

/**
 * Bytes of a quantity such as `10Gi`, `1.5Gi`, `500M` or `1073741824`, exactly (as a
 * bigint); a fraction of a byte rounds up, as Kubernetes does.
 */
export function quantityBytes(quantity: string | number): bigint {
  return (readQuantity(quantity).nanos + NANO - 1n) / NANO;
}

/**
 * A quantity in the canonical form the API server stores (`1024Mi` reads back as `1Gi`,
 * `0.5` as `500m`), so that what dbop applies compares equal to what it reads back.
 */
export function canonicalQuantity(quantity: string | number): string {
  const { nanos: value, suffix } = readQuantity(quantity);
  if (suffix in BINARY) {
    if (value % NANO !== 0n) return decimalForm(value, false);
    const bytes = value / NANO;
    const unit = Object.keys(BINARY).reverse().find((key) => bytes % BINARY[key] === 0n);
    return bytes === 0n || unit === undefined ? `${bytes}` : `${bytes / BINARY[unit]}${unit}`;
  }
  return decimalForm(value, /^[eE]/.test(suffix));
}

/**
 * The PostgreSQL container's resources from `spec.resources`, each quantity in the
 * API server's canonical form (see {@link canonicalQuantity}).
 */
export function containerResources(cluster: DatabaseCluster): V1ResourceRequirements | undefined {
  const resources = cluster.spec.resources;
  if (!resources) return undefined;
  const list = (values: Record<string, string | number | undefined> | undefined) => {
    if (!values) return undefined;
    const entries = Object.entries(values).filter(([, v]) => v !== undefined);
    return entries.length === 0 ? undefined : Object.fromEntries(
      entries.map(([key, value]) => [key, canonicalQuantity(value as string | number)]),
    );
  };
  const out: V1ResourceRequirements = {};
  const requests = list(resources.requests);
  const limits = list(resources.limits);
  if (requests) out.requests = requests;
  if (limits) out.limits = limits;
  return requests || limits ? out : undefined;
}
