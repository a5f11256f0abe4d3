/**
 * dbop, the DatabaseCluster operator: the command-line entry point.
 *
 * ```sh
 * dbop run --kubeconfig ~/.kube/config     # run the operator (the default command)
 * dbop crds                                # print the CRD
 * dbop render -f cluster.yaml              # print the objects dbop would apply
 * dbop instance run                        # run a PostgreSQL instance (in its pod)
 * dbop promote pg pg-1 -n shop             # switch the primary of shop/pg over to pg-1
 * dbop version
 * ```
 *
 * @module
 */
import { dispose } from "@logtape/logtape";
import { helpText, parseCommandLine } from "./lib/cli/args.ts";
import { exitCodeOf } from "./lib/cli/errors.ts";
import { versionLine } from "./lib/version.ts";

const encoder = new TextEncoder();
const out = (text: string) => Deno.stdout.writeSync(encoder.encode(text));
const err = (text: string) => Deno.stderr.writeSync(encoder.encode(text));

// Each command loads its own modules (literal specifiers, so `deno compile` still bundles them):
// the operator, zod and the YAML library are not in memory unless the command needs them.
async function main(args: string[]): Promise<number> {
  const command = parseCommandLine(args);
  switch (command.command) {
    case "help":
      out(helpText(command.topic) + "\n");
      return 0;
    case "version":
      out(versionLine() + "\n");
      return 0;
    case "crds": {
      const [{ stringify }, { buildCrd }] = await Promise.all([
        import("yaml"),
        import("./lib/api/mod.ts"),
      ]);
      out(stringify(buildCrd(), { lineWidth: 0 }));
      return 0;
    }
    case "render": {
      const { renderManifests } = await import("./lib/databasecluster/mod.ts");
      const text = command.file === "-"
        ? await new Response(Deno.stdin.readable).text()
        : await Deno.readTextFile(command.file);
      out(renderManifests(text));
      return 0;
    }
    case "instance": {
      const { runInstanceCommand } = await import("./lib/instance/mod.ts");
      return await runInstanceCommand(command.args);
    }
    case "promote": {
      const { promote } = await import("./lib/cli/promote.ts");
      out((await promote(command)) + "\n");
      return 0;
    }
    case "run": {
      const { runOperator } = await import("./lib/cli/run.ts");
      return await runOperator(command.options);
    }
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
    err(`dbop: ${(error as Error).message}\n`);
    await exit(exitCodeOf(error));
  }
}
