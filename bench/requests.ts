/**
 * API requests of one phase, counted by the API server itself: the audit log
 * attributes each request to its user (dbop or the floor client), and
 * `apiserver_request_total` from kube-apiserver's `/metrics` gives every
 * client's requests together (dbop's, the controller manager's, kwok's, the
 * benchmark's), as a cross-check of the load the phase put on the server.
 *
 * @module
 */
import type { Resources } from "../lib/kube/mod.ts";
import { type AuditLog, type AuditRequest, countBy, isWrite } from "./audit.ts";
import { difference, parsePrometheus, sumBy } from "./metrics.ts";

/** Requests of one user in a window. */
export interface UserRequests {
  total: number;
  /** State-changing requests (access reviews excluded). */
  writes: number;
  /** State-changing requests by `verb resource[/subresource]`. */
  writesByResource: Record<string, number>;
  byVerb: Record<string, number>;
  /** By `verb resource[/subresource]`. */
  byVerbResource: Record<string, number>;
  /** Responses by HTTP code. */
  byCode: Record<string, number>;
}

/** Where a phase started: time and the API server's counters. */
export interface RequestMark {
  at: number;
  apiserver: Record<string, number>;
}

/** Summarizes requests. */
export function summarizeRequests(requests: readonly AuditRequest[]): UserRequests {
  return {
    total: requests.length,
    writes: requests.filter(isWrite).length,
    writesByResource: countBy(requests.filter(isWrite), (r) => `${r.verb} ${r.resource}`),
    byVerb: countBy(requests, (r) => r.verb),
    byVerbResource: countBy(requests, (r) => `${r.verb} ${r.resource}`),
    byCode: countBy(requests, (r) => String(r.code ?? "open")),
  };
}

/** Divides every count by `n` (per-cluster figures), two decimals. */
export function perCluster(counts: Record<string, number>, n: number): Record<string, number> {
  return Object.fromEntries(
    Object.entries(counts).map(([k, v]) => [k, Math.round((v / Math.max(1, n)) * 100) / 100]),
  );
}

/** Counts requests per phase from the audit log and the API server's metrics. */
export class RequestMeter {
  readonly #audit: AuditLog;
  readonly #admin: Resources;

  constructor(audit: AuditLog, admin: Resources) {
    this.#audit = audit;
    this.#admin = admin;
  }

  /** `apiserver_request_total` of every client, by verb. */
  async apiserverByVerb(): Promise<Record<string, number>> {
    const res = await this.#admin.client.fetch("/metrics");
    return sumBy(parsePrometheus(await res.text()), "apiserver_request_total", "verb");
  }

  /** Marks the start of a phase. */
  async begin(): Promise<RequestMark> {
    return { at: Date.now(), apiserver: await this.apiserverByVerb() };
  }

  /** The requests of `user` from the mark to `until` (default now), and every client's. */
  async end(
    mark: RequestMark,
    user: string,
    until = Date.now(),
  ): Promise<{ user: UserRequests; apiserverAllClients: Record<string, number> }> {
    const apiserver = difference(mark.apiserver, await this.apiserverByVerb());
    // The audit backend writes a request's last stage just after answering it.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const requests = await this.#audit.requests({ user, from: mark.at, to: until });
    return { user: summarizeRequests(requests), apiserverAllClients: apiserver };
  }
}
