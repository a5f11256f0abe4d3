/**
 * The end of every probe of `bench/client_memory.ts`: collect garbage, stay
 * idle a moment (V8 gives committed heap back only after some quiet), collect
 * again, then print `Deno.memoryUsage()` as one JSON line. Needs
 * `--v8-flags=--expose-gc`.
 *
 * @module
 */

const IDLE_MS = 1_000;

/** Prints the process's memory after a GC and {@linkcode IDLE_MS} of idleness. */
export async function reportSettledMemory(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("Run the probe with --v8-flags=--expose-gc");
  gc();
  await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
  gc();
  Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(Deno.memoryUsage()) + "\n"));
}
