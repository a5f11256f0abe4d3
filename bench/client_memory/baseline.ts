/**
 * Probe: Deno with nothing loaded, the floor under every other probe.
 *
 * @module
 */
import { reportSettledMemory } from "./settle.ts";

await reportSettledMemory();
