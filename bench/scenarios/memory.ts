/**
 * Scenario 5, memory: dbop's resident set (from /proc) and JS heap (from its
 * `/metrics`). Both move with garbage collection, and RSS follows the heap V8
 * has committed, which it gives back only some seconds after a burst; so
 * samples are taken every second until the committed heap is stable. Also the
 * growth caused by many unrelated ConfigMaps and Secrets, which dbop's
 * label-filtered caches should never hold.
 *
 * @module
 */
import { ConfigMaps, Secrets } from "../../lib/databasecluster/kinds.ts";
import type { BenchContext } from "../context.ts";
import { createNamespace } from "../fleet.ts";
import type { OperatorProcess } from "../operator.ts";
import { forEachConcurrently } from "../pool.ts";
import { median } from "../stats.ts";

/** Memory at one point of the run (bytes). */
export interface MemoryFigures {
  rss: number;
  heapUsed: number;
  heapTotal: number;
}

/** Memory before and after the unrelated objects. */
export interface UnrelatedFigures {
  configMaps: number;
  secrets: number;
  bytesEach: number;
  before: MemoryFigures;
  after: MemoryFigures;
}

const PAYLOAD_BYTES = 4096;
/** V8's memory reducer shrinks the heap in steps a few seconds apart once allocation calms down. */
const SETTLE = { minMs: 15_000, stableMs: 8_000, maxMs: 60_000, keepMs: 5_000 };

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Samples memory every second until the committed heap has not moved for 8 s (at least
 * 15 s, at most 60 s), then summarizes the last 5 s: median RSS, smallest heap in use.
 */
export async function sampleMemory(operator: OperatorProcess): Promise<MemoryFigures> {
  const started = Date.now();
  const samples: (Awaited<ReturnType<OperatorProcess["memory"]>> & { at: number })[] = [];
  let stableSince = started;
  for (;;) {
    const sample = { ...(await operator.memory()), at: Date.now() };
    if (samples.length > 0 && sample.heapTotal !== samples.at(-1)!.heapTotal) {
      stableSince = sample.at;
    }
    samples.push(sample);
    const elapsed = sample.at - started;
    const settled = elapsed >= SETTLE.minMs && sample.at - stableSince >= SETTLE.stableMs;
    if (settled || elapsed >= SETTLE.maxMs) break;
    await sleep(1000);
  }
  const last = samples.filter((s) => s.at >= samples.at(-1)!.at - SETTLE.keepMs);
  return {
    rss: median(last.map((s) => s.rss)),
    heapUsed: Math.min(...last.map((s) => s.heapUsed)),
    heapTotal: median(last.map((s) => s.heapTotal)),
  };
}

/**
 * Creates `count` ConfigMaps and `count` Secrets of 4 KiB in their own namespace; measures dbop
 * against `before`, sampled just before with nothing else happening.
 */
export async function unrelatedObjectsScenario(
  ctx: BenchContext,
  operator: OperatorProcess,
  options: { count: number; before: MemoryFigures },
): Promise<UnrelatedFigures> {
  const { admin } = ctx.cluster;
  const { count, before } = options;
  const namespace = "bench-unrelated";
  await createNamespace(admin, namespace);
  const payload = "x".repeat(PAYLOAD_BYTES);
  const indexes = Array.from({ length: count }, (_, i) => i);
  await forEachConcurrently(indexes, 16, async (i) => {
    const metadata = { name: `unrelated-${i}`, namespace, labels: { app: "unrelated" } };
    await admin.create(ConfigMaps, { metadata, data: { payload } });
    await admin.create(Secrets, { metadata, stringData: { payload } });
  });
  ctx.log(`unrelated: created ${count} ConfigMaps and ${count} Secrets`);
  return {
    configMaps: count,
    secrets: count,
    bytesEach: PAYLOAD_BYTES,
    before,
    after: await sampleMemory(operator),
  };
}
