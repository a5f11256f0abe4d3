/**
 * `deno task bench`: how fast dbop converges, how close it gets to the API
 * server's own limit (the floor), what a converged fleet costs at rest, and
 * how much memory it takes. Starts its own local control plane (never another
 * cluster), runs every scenario (see run.ts), prints the machine facts,
 * versions, the exact commands and a table (or JSON with `--json`), and
 * always stops what it started.
 *
 * @module
 */
import { stopAllBenchClusters } from "./cluster.ts";
import { readEnvironment } from "./environment.ts";
import { OperatorProcess } from "./operator.ts";
import { type BenchCommand, HELP, parseBenchArgs } from "./options.ts";
import { type BenchResult, methodNotes, renderMarkdown } from "./report.ts";
import { runBenchmark } from "./run.ts";

const encoder = new TextEncoder();
const started = Date.now();

function log(line: string): void {
  const elapsed = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
  Deno.stderr.writeSync(encoder.encode(`[bench +${elapsed}s] ${line}\n`));
}

async function commandLine(args: string[]): Promise<BenchResult["command"]> {
  const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  const rest = args.length ? ` ${args.join(" ")}` : "";
  return { task: `deno task bench${rest}`, expanded: `${config.tasks.bench}${rest}` };
}

async function writeResults(dir: string, result: BenchResult, markdown: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const base = `${dir}/${result.environment.date.slice(0, 10)}-n${result.options.n}`;
  await Deno.writeTextFile(`${base}.json`, JSON.stringify(result, null, 2) + "\n");
  await Deno.writeTextFile(`${base}.md`, markdown);
  log(`wrote ${base}.json and ${base}.md`);
}

async function run(command: BenchCommand, args: string[]): Promise<BenchResult> {
  const environment = await readEnvironment();
  const options = command.options;
  log(`N=${options.n} on ${environment.cores} cores, commit ${environment.commit}`);
  // A private temporary directory: control planes and logs of this run, nobody else's.
  const tmp = await Deno.makeTempDir({ prefix: "dbop-bench-" });
  Deno.env.set("TMPDIR", tmp);
  const stop = async () => {
    await OperatorProcess.stopAll();
    await stopAllBenchClusters(command.keep);
    if (!command.keep) await Deno.remove(tmp, { recursive: true }).catch(() => {});
  };
  const onSignal = async () => {
    log("interrupted: stopping dbop and the control plane");
    await stop();
    Deno.exit(130);
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, onSignal);
  try {
    const { figures, kubernetesVersion, nodes } = await runBenchmark(options, {
      log,
      keep: command.keep,
    });
    environment.kubernetes = kubernetesVersion;
    if (command.keep) log(`kept ${tmp}`);
    return {
      environment,
      options,
      command: await commandLine(args),
      nodes,
      notes: methodNotes(options, figures),
      figures,
      durationMs: Date.now() - started,
    };
  } finally {
    await stop();
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      Deno.removeSignalListener(signal, onSignal);
    }
  }
}

if (import.meta.main) {
  let command: BenchCommand;
  try {
    command = parseBenchArgs(Deno.args);
  } catch (error) {
    Deno.stderr.writeSync(encoder.encode(`bench: ${(error as Error).message}\n`));
    Deno.exit(2);
  }
  if (command.help) {
    Deno.stdout.writeSync(encoder.encode(HELP));
    Deno.exit(0);
  }
  try {
    const result = await run(command, Deno.args);
    const markdown = renderMarkdown(result);
    const text = command.json ? JSON.stringify(result, null, 2) + "\n" : markdown;
    Deno.stdout.writeSync(encoder.encode(text));
    if (command.out) await writeResults(command.out, result, markdown);
  } catch (error) {
    Deno.stderr.writeSync(encoder.encode(`bench: ${(error as Error).stack ?? error}\n`));
    Deno.exit(1);
  }
}
