import assert from "node:assert/strict";
import type { KubernetesObject } from "@kubernetes/client-node";
import { type CallOptions, NotFoundError, type ResourceType, ServerError } from "../kube/mod.ts";
import {
  type EventObject,
  EventRecorder,
  type EventRecorderOptions,
  eventReference,
  NOTE_MAX_BYTES,
  truncateNote,
} from "./events.ts";
import { FakeClock } from "./fake_clock.ts";
import { microTime } from "./micro_time.ts";

const CONFIGMAP = {
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "pg-main-config", namespace: "db", uid: "uid-1", resourceVersion: "42" },
};

interface Call {
  method: "create" | "patch";
  name: string;
  namespace?: string;
  body: unknown;
}

/** Records the recorder's API calls; `fail` makes the next calls of a kind fail. */
class FakeEventClient {
  readonly calls: Call[] = [];
  fail: { create?: Error; patch?: Error; hang?: boolean } = {};

  create<T extends KubernetesObject>(
    _type: ResourceType<T>,
    obj: T,
    options: CallOptions = {},
  ): Promise<T> {
    const name = obj.metadata!.name!;
    this.calls.push({ method: "create", name, namespace: options.namespace, body: obj });
    return this.#answer(options.signal, this.fail.create, structuredClone(obj));
  }

  patch<T extends KubernetesObject>(
    _type: ResourceType<T>,
    name: string,
    patch: unknown,
    options: CallOptions = {},
  ): Promise<T> {
    this.calls.push({ method: "patch", name, namespace: options.namespace, body: patch });
    return this.#answer(options.signal, this.fail.patch, { metadata: { name } } as T);
  }

  #answer<T>(signal: AbortSignal | undefined, error: Error | undefined, value: T): Promise<T> {
    if (this.fail.hang) {
      return new Promise((_, reject) =>
        signal?.addEventListener("abort", () => reject(signal.reason), { once: true })
      );
    }
    return error ? Promise.reject(error) : Promise.resolve(value);
  }
}

function newRecorder(options: Partial<EventRecorderOptions> = {}) {
  const clock = new FakeClock(Date.UTC(2025, 0, 1));
  const client = new FakeEventClient();
  const logs: string[] = [];
  const recorder = new EventRecorder(client, {
    reportingController: "database.example.com/dbop",
    reportingInstance: "dbop-0",
    clock,
    logger: (message) => logs.push(message),
    ...options,
  });
  return { clock, client, logs, recorder };
}

const failed = {
  type: "Warning",
  reason: "BackupFailed",
  action: "Backup",
  note: "disk full",
} as const;

Deno.test("truncateNote() keeps notes up to 1 KiB and cuts longer ones on a character boundary", () => {
  assert.equal(truncateNote("short"), "short");
  assert.equal(truncateNote("x".repeat(2000)), "x".repeat(NOTE_MAX_BYTES));
  // "a" plus 512 two-byte characters is 1025 bytes; the cut at 1024 would split the last one.
  assert.equal(truncateNote("a" + "\u00e9".repeat(512)), "a" + "\u00e9".repeat(511));
});

Deno.test("eventReference() copies the object's identity and rejects objects without a kind", () => {
  assert.deepEqual(eventReference(CONFIGMAP), {
    apiVersion: "v1",
    kind: "ConfigMap",
    name: "pg-main-config",
    namespace: "db",
    uid: "uid-1",
    resourceVersion: "42",
  });
  assert.throws(() => eventReference({ metadata: { name: "x" } }), /without apiVersion, kind/);
});

Deno.test("EventRecorder creates an Event with every required field in the object's namespace", async () => {
  const { clock, client, recorder } = newRecorder();
  recorder.record(CONFIGMAP, failed);
  assert.equal(client.calls.length, 0, "record() returns before any I/O");
  await clock.advanceAsync(0);
  assert.equal(client.calls.length, 1);
  const { method, namespace, body } = client.calls[0];
  const event = body as EventObject;
  assert.equal(method, "create");
  assert.equal(namespace, "db");
  assert.match(event.metadata!.name!, /^pg-main-config\.[0-9a-f]+$/);
  assert.deepEqual({ ...event, metadata: undefined }, {
    apiVersion: "events.k8s.io/v1",
    kind: "Event",
    metadata: undefined,
    eventTime: "2025-01-01T00:00:00.000000Z",
    reportingController: "database.example.com/dbop",
    reportingInstance: "dbop-0",
    action: "Backup",
    reason: "BackupFailed",
    type: "Warning",
    note: "disk full",
    regarding: eventReference(CONFIGMAP),
  });
});

Deno.test("EventRecorder files events about cluster-scoped objects in the default namespace", async () => {
  const { clock, client, recorder } = newRecorder();
  recorder.record({ apiVersion: "v1", kind: "Node", metadata: { name: "n1", uid: "u" } }, failed);
  await clock.advanceAsync(0);
  assert.equal(client.calls[0].namespace, "default");
});

Deno.test("EventRecorder drops invalid events with a log line instead of throwing", async () => {
  const { clock, client, logs, recorder } = newRecorder();
  recorder.record(CONFIGMAP, { ...failed, reason: "backup failed" });
  recorder.record(CONFIGMAP, { ...failed, reason: "backupFailed" });
  // deno-lint-ignore no-explicit-any
  recorder.record(CONFIGMAP, { ...failed, type: "Error" as any });
  recorder.record(CONFIGMAP, { ...failed, action: "" });
  recorder.record({ metadata: { name: "no-kind" } }, failed);
  await clock.advanceAsync(10_000);
  assert.equal(client.calls.length, 0);
  assert.equal(logs.length, 5);
});

Deno.test("EventRecorder folds repeats into one Event and patches its series at most once per interval", async () => {
  const { clock, client, recorder } = newRecorder({ minWriteIntervalMs: 5000 });
  const start = clock.now();
  recorder.record(CONFIGMAP, failed);
  await clock.advanceAsync(0);
  for (let i = 0; i < 49; i++) {
    recorder.record(CONFIGMAP, failed);
    await clock.advanceAsync(50);
  }
  // 49 repeats over 2.45 s: nothing written yet, the series waits for its interval.
  assert.equal(client.calls.length, 1);
  await clock.advanceAsync(5000);
  assert.equal(client.calls.length, 2);
  assert.deepEqual(client.calls[1], {
    method: "patch",
    name: client.calls[0].name,
    namespace: "db",
    body: { series: { count: 50, lastObservedTime: microTime(start + 48 * 50) } },
  });
  await clock.advanceAsync(60_000);
  assert.equal(client.calls.length, 2, "no writes without new occurrences");
});

Deno.test("EventRecorder creates a burst of repeats as one Event that already carries its series", async () => {
  const { clock, client, recorder } = newRecorder();
  for (let i = 0; i < 50; i++) recorder.record(CONFIGMAP, failed);
  await clock.advanceAsync(0);
  assert.equal(client.calls.length, 1);
  assert.equal((client.calls[0].body as EventObject).series?.count, 50);
});

Deno.test("EventRecorder keeps events with different notes or reasons apart", async () => {
  const { clock, client, recorder } = newRecorder();
  recorder.record(CONFIGMAP, failed);
  recorder.record(CONFIGMAP, { ...failed, note: "disk on fire" });
  recorder.record(CONFIGMAP, { ...failed, reason: "BackupRetried" });
  await clock.advanceAsync(0);
  assert.deepEqual(client.calls.map((c) => c.method), ["create", "create", "create"]);
});

Deno.test("EventRecorder starts a new Event after the series window passes in silence", async () => {
  const { clock, client, recorder } = newRecorder({ seriesWindowMs: 60_000 });
  recorder.record(CONFIGMAP, failed);
  await clock.advanceAsync(60_001);
  recorder.record(CONFIGMAP, failed);
  await clock.advanceAsync(0);
  assert.deepEqual(client.calls.map((c) => c.method), ["create", "create"]);
  assert.notEqual(client.calls[0].name, client.calls[1].name);
});

Deno.test("EventRecorder logs a failed write, keeps going, and creates again on the next occurrence", async () => {
  const { clock, client, logs, recorder } = newRecorder();
  client.fail.create = new ServerError(500, { message: "etcd is down" }, true);
  recorder.record(CONFIGMAP, failed);
  await clock.advanceAsync(0);
  assert.equal(logs.length, 1);
  client.fail = {};
  recorder.record(CONFIGMAP, failed);
  await clock.advanceAsync(0);
  assert.deepEqual(client.calls.map((c) => c.method), ["create", "create"]);
  assert.equal((client.calls[1].body as EventObject).series, undefined);
});

Deno.test("EventRecorder re-creates a series whose Event expired", async () => {
  const { clock, client, recorder } = newRecorder();
  recorder.record(CONFIGMAP, failed);
  await clock.advanceAsync(0);
  client.fail.patch = new NotFoundError(404, { reason: "NotFound" }, false);
  recorder.record(CONFIGMAP, failed);
  await clock.advanceAsync(5000);
  assert.deepEqual(client.calls.map((c) => c.method), ["create", "patch", "create"]);
  const recreated = client.calls[2].body as EventObject;
  assert.equal(recreated.series?.count, 2);
  assert.notEqual(recreated.metadata?.name, client.calls[0].name);
});

Deno.test("EventRecorder limits new series per object to a burst, then one per refill period", async () => {
  const { clock, client, logs, recorder } = newRecorder({ burst: 3, refillMs: 60_000 });
  for (let i = 0; i < 10; i++) recorder.record(CONFIGMAP, { ...failed, note: `attempt ${i}` });
  await clock.advanceAsync(0);
  assert.equal(client.calls.length, 3);
  assert.equal(logs.length, 1, "one log line for a run of drops");
  await clock.advanceAsync(60_000);
  recorder.record(CONFIGMAP, { ...failed, note: "attempt 10" });
  recorder.record(CONFIGMAP, { ...failed, note: "attempt 11" });
  await clock.advanceAsync(0);
  assert.equal(client.calls.length, 4);
});

Deno.test("EventRecorder.flush() writes pending series updates without waiting for the interval", async () => {
  const { clock, client, recorder } = newRecorder();
  recorder.record(CONFIGMAP, failed);
  await clock.advanceAsync(0);
  recorder.record(CONFIGMAP, failed);
  recorder.record(CONFIGMAP, failed);
  await recorder.flush();
  assert.deepEqual(client.calls.map((c) => c.method), ["create", "patch"]);
  assert.deepEqual((client.calls[1].body as { series: { count: number } }).series.count, 3);
});

Deno.test("EventRecorder gives up on a hanging request after its timeout", async () => {
  const { clock, client, logs, recorder } = newRecorder({ requestTimeoutMs: 3000 });
  client.fail.hang = true;
  recorder.record(CONFIGMAP, failed);
  await clock.advanceAsync(2999);
  assert.equal(logs.length, 0);
  await clock.advanceAsync(1);
  assert.equal(logs.length, 1);
  await recorder.flush();
});

Deno.test("EventRecorder stays silent when its logger throws", async () => {
  const { clock, client, recorder } = newRecorder({
    logger: () => {
      throw new Error("Logger broken");
    },
  });
  client.fail.create = new ServerError(500, { message: "etcd is down" }, true);
  recorder.record(CONFIGMAP, { ...failed, reason: "not camel" });
  recorder.record(CONFIGMAP, failed);
  await clock.advanceAsync(0);
  await recorder.flush();
  assert.equal(client.calls.length, 1);
});
