/**
 * The API server's audit log, read back as the apiserver's own record of who
 * sent which request: `apiserver_request_total` has no user label, so
 * requests are attributed to dbop (and to the floor client) by the audited
 * user. Events are JSON lines (Metadata level); a request can appear in
 * several stages, so requests are keyed by `auditID`. The log is read
 * incrementally and queried by time window (the request's arrival).
 *
 * @module
 */

/** One request as the audit log records it. */
export interface AuditRequest {
  id: string;
  /** When the API server received it (ms since the epoch). */
  at: number;
  user: string;
  /** Lower-case Kubernetes verb: get, list, watch, create, update, patch, delete, ... */
  verb: string;
  /** `resource` or `resource/subresource`, e.g. `databaseclusters/status`. */
  resource: string;
  /** HTTP status of the response, once complete. */
  code?: number;
}

/** Verbs that change state. */
export const MUTATING_VERBS: readonly string[] = [
  "create",
  "update",
  "patch",
  "delete",
  "deletecollection",
];

/** Resources whose `create` only asks a question (access reviews) and stores nothing. */
const QUESTIONS = new Set([
  "selfsubjectaccessreviews",
  "selfsubjectrulesreviews",
  "subjectaccessreviews",
  "tokenreviews",
]);

/** Whether a request wrote state (a mutating verb on anything but an access review). */
export function isWrite(request: AuditRequest): boolean {
  return MUTATING_VERBS.includes(request.verb) && !QUESTIONS.has(request.resource);
}

/** Parses audit events (one JSON object per line); lines that are not events are skipped. */
export function parseAuditEvents(text: string): AuditRequest[] {
  const requests: AuditRequest[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    let event;
    try {
      event = JSON.parse(line);
    } catch {
      continue;
    }
    if (!event.auditID || !event.verb) continue;
    const ref = event.objectRef ?? {};
    const resource = ref.resource
      ? (ref.subresource ? `${ref.resource}/${ref.subresource}` : ref.resource)
      : (event.requestURI ?? "").split("?")[0];
    requests.push({
      id: event.auditID,
      at: Date.parse(event.requestReceivedTimestamp),
      user: event.user?.username ?? "",
      verb: event.verb,
      resource,
      code: event.responseStatus?.code,
    });
  }
  return requests;
}

/** Counts requests by a key of each. */
export function countBy(
  requests: readonly AuditRequest[],
  key: (request: AuditRequest) => string,
): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const request of requests) counts[key(request)] = (counts[key(request)] ?? 0) + 1;
  return counts;
}

/** Which requests to select: by user and by arrival time (ms since the epoch, inclusive). */
export interface AuditFilter {
  user?: string;
  from?: number;
  to?: number;
}

/** An audit log file, read as it grows. */
export class AuditLog {
  readonly path: string;
  readonly #requests = new Map<string, AuditRequest>();
  #offset = 0;
  #partial = "";

  constructor(path: string) {
    this.path = path;
  }

  /** Reads what was appended since the last call. */
  async refresh(): Promise<void> {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(this.path, { read: true });
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return;
      throw error;
    }
    try {
      await file.seek(this.#offset, Deno.SeekMode.Start);
      const chunks: Uint8Array[] = [];
      const buffer = new Uint8Array(1 << 20);
      for (;;) {
        const read = await file.read(buffer);
        if (read === null) break;
        chunks.push(buffer.slice(0, read));
        this.#offset += read;
      }
      this.append(new TextDecoder().decode(concat(chunks)));
    } finally {
      file.close();
    }
  }

  /** Takes text appended to the log; a last line without its newline waits for the rest. */
  append(text: string): void {
    const all = this.#partial + text;
    const end = all.lastIndexOf("\n");
    this.#partial = all.slice(end + 1);
    for (const request of parseAuditEvents(all.slice(0, end + 1))) {
      const known = this.#requests.get(request.id);
      this.#requests.set(request.id, { ...request, code: request.code ?? known?.code });
    }
  }

  /** The requests matching `filter` among those read so far. */
  select(filter: AuditFilter = {}): AuditRequest[] {
    return [...this.#requests.values()].filter((r) =>
      (filter.user === undefined || r.user === filter.user) &&
      (filter.from === undefined || r.at >= filter.from) &&
      (filter.to === undefined || r.at <= filter.to)
    );
  }

  /** The requests matching `filter`, after reading what is new. */
  async requests(filter: AuditFilter = {}): Promise<AuditRequest[]> {
    await this.refresh();
    return this.select(filter);
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}
