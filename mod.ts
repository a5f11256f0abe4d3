/**
 * dbop, the DatabaseCluster operator: the command-line entry point.
 *
 * ```sh
 * dbop run --kubeconfig ~/.kube/config     # run the operator (the default command)
 * dbop crds                                # print the CRD
 * dbop render -f cluster.yaml              # print the objects dbop would apply
 * dbop version
 * ```
 *
 * @module
 */
import { dispose } from "@logtape/logtape";
import { stringify } from "yaml";
import { buildCrd } from "./lib/api/mod.ts";
import { helpText, parseCommandLine, UsageError } from "./lib/cli/args.ts";
import { PreflightError } from "./lib/cli/preflight.ts";
import { ConfigError, runOperator } from "./lib/cli/run.ts";
import { LeadershipLostError } from "./lib/runtime/mod.ts";
import { renderManifests } from "./lib/databasecluster/mod.ts";
import { versionLine } from "./lib/version.ts";

const encoder = new TextEncoder();
const out = (text: string) => Deno.stdout.writeSync(encoder.encode(text));
const err = (text: string) => Deno.stderr.writeSync(encoder.encode(text));

async function main(args: string[]): Promise<number> {
  const command = parseCommandLine(args);
  switch (command.command) {
    case "help":
      out(helpText(command.topic) + "\n");
      return 0;
    case "version":
      out(versionLine() + "\n");
      return 0;
    case "crds":
      out(stringify(buildCrd(), { lineWidth: 0 }));
      return 0;
    case "render": {
      const text = command.file === "-"
        ? await new Response(Deno.stdin.readable).text()
        : await Deno.readTextFile(command.file);
      out(renderManifests(text));
      return 0;
    }
    case "run":
      return await runOperator(command.options);
  }
}

/** Flushes buffered log lines, then exits. */
async function exit(code: number): Promise<never> {
  await dispose();
  Deno.exit(code);
}

if (import.meta.main) {
  try {
    await exit(await main(Deno.args));
  } catch (error) {
    if (error instanceof PreflightError || error instanceof LeadershipLostError) {
      err(`dbop: ${error.message}\n`);
      await exit(1);
    }
    if (error instanceof UsageError || error instanceof ConfigError) {
      err(`dbop: ${error.message}\n`);
      await exit(2);
    }
    if (error instanceof Deno.errors.NotFound) {
      err(`dbop: ${error.message}\n`);
      await exit(2);
    }
    err(`dbop: ${(error as Error).message}\n`);
    await exit(1);
  }
}
