/**
 * Writes the API server refused (`isRefusal`: admission, quota, RBAC,
 * validation), remembered per cluster so that a refused write is not sent
 * again on every reconcile: it is retried when what it would send or the live
 * object changed (its fingerprint), or after a slow retry period (for what no
 * watch sees, such as a raised quota). A refusal is reported while it stands,
 * and is new (one Warning event) only when its message changed.
 *
 * @module
 */
import type { StatusProblem } from "./status.ts";

/** The reason on `Ready` (and of the Warning event) for a write the API server refused. */
export const CHANGE_REFUSED = "ChangeRefused";

/** How long a refused write waits before it is tried again with nothing changed. */
export const REFUSAL_RETRY_MS = 10 * 60 * 1000;

/** A refused write of one child. */
export interface Refusal {
  /** `Kind "name"`, e.g. `PersistentVolumeClaim "pg-backups"`. */
  child: string;
  /** The API server's message. */
  message: string;
  fingerprint: string;
  at: number;
}

/** The refusals of every cluster, by cluster UID and child. */
export class Refusals {
  readonly #clusters = new Map<string, Map<string, Refusal>>();

  /** The refusals of one cluster, at time `now`. */
  of(cluster: string, now: number): ClusterRefusals {
    let refusals = this.#clusters.get(cluster);
    if (!refusals) {
      refusals = new Map();
      this.#clusters.set(cluster, refusals);
    }
    return new ClusterRefusals(refusals, now);
  }

  /** Forgets a cluster (deleted). */
  forget(cluster: string): void {
    this.#clusters.delete(cluster);
  }
}

/** One cluster's refused writes. */
export class ClusterRefusals {
  readonly #refusals: Map<string, Refusal>;
  readonly #now: number;
  /** The refusals recorded in this reconcile that were not known before. */
  readonly fresh: Refusal[] = [];

  constructor(refusals: Map<string, Refusal>, now: number) {
    this.#refusals = refusals;
    this.#now = now;
  }

  /** The refusal that still stands for this write: same fingerprint, not due for a retry. */
  standing(child: string, fingerprint: string): Refusal | undefined {
    const refusal = this.#refusals.get(child);
    if (!refusal) return undefined;
    if (refusal.fingerprint === fingerprint && this.#now - refusal.at < REFUSAL_RETRY_MS) {
      return refusal;
    }
    return undefined;
  }

  /** Records that the API server refused this write. */
  refused(child: string, fingerprint: string, message: string): Refusal {
    const known = this.#refusals.get(child);
    const refusal = { child, message, fingerprint, at: this.#now };
    this.#refusals.set(child, refusal);
    if (known?.message !== message) this.fresh.push(refusal);
    return refusal;
  }

  /** Forgets the refusal of a write that passed or is no longer wanted. */
  clear(child: string): void {
    this.#refusals.delete(child);
  }
}

/** The status problem of a standing refusal. */
export function refusalProblem(refusal: Refusal): StatusProblem {
  return {
    reason: CHANGE_REFUSED,
    message: `The API server refused to write ${refusal.child}: ${refusal.message}`,
  };
}

/** A fingerprint of a write: what it sends and the resourceVersion of what it changes. */
export async function fingerprint(body: unknown, resourceVersion?: string): Promise<string> {
  // A digest, so the memory holds no Secret's data.
  const bytes = new TextEncoder().encode(`${resourceVersion ?? ""}\n${JSON.stringify(body)}`);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}
