/**
 * What a result was measured on: the machine (cores, memory, CPU model,
 * kernel), the versions (dbop, Deno, V8, the Kubernetes control plane) and
 * the git commit of the checkout, so results from different runs can be
 * compared honestly.
 *
 * @module
 */
import { VERSION } from "../lib/version.ts";

/** Facts about the machine and the software measured. */
export interface Environment {
  date: string;
  commit: string;
  /** Whether the checkout had uncommitted changes in dbop's code (lib/, mod.ts, bench/). */
  dirty: boolean;
  cores: number;
  memoryBytes: number;
  cpuModel: string;
  os: string;
  /** 1, 5 and 15 minute load averages when the run started (other work on the machine). */
  loadAverage: number[];
  dbop: string;
  deno: string;
  v8: string;
  kubernetes?: string;
}

const ROOT = new URL("../", import.meta.url).pathname;

async function git(args: string[]): Promise<string> {
  try {
    const out = await new Deno.Command("git", { args, cwd: ROOT, stdout: "piped", stderr: "null" })
      .output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : "";
  } catch {
    return "";
  }
}

function cpuModel(): string {
  try {
    const line = Deno.readTextFileSync("/proc/cpuinfo").split("\n")
      .find((l) => l.startsWith("model name"));
    return line?.split(":")[1]?.trim() ?? "unknown";
  } catch {
    return "unknown";
  }
}

/** Reads the machine facts, versions and commit. */
export async function readEnvironment(): Promise<Environment> {
  const status = await git(["status", "--porcelain", "--", "lib", "mod.ts", "bench"]);
  return {
    date: new Date().toISOString(),
    commit: await git(["rev-parse", "--short=12", "HEAD"]) || "unknown",
    dirty: status.split("\n").some((line) =>
      line.trim() !== "" && !line.includes("bench/results/")
    ),
    cores: navigator.hardwareConcurrency,
    memoryBytes: Deno.systemMemoryInfo().total,
    cpuModel: cpuModel(),
    os: `${Deno.build.os} ${Deno.osRelease()} ${Deno.build.arch}`,
    loadAverage: Deno.loadavg(),
    dbop: VERSION,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
  };
}
