/**
 * `dbop instance install <path>`: the init container's command. It puts the
 * running dbop at `path` in the volume the PostgreSQL container shares, so
 * that image needs nothing of dbop's. A compiled dbop copies its own binary.
 * Under `deno run` (tests, `deno task local`) there is no binary to copy, so
 * it writes a launcher that runs the same entry point with the compiled
 * binary's permissions: the PostgreSQL container then runs the same code
 * either way.
 *
 * @module
 */

/** The permissions `deno task compile` bakes into the binary (deno.json). */
export const BINARY_PERMISSIONS: readonly string[] = [
  "--allow-env",
  "--allow-read",
  "--allow-write",
  "--allow-net",
  "--allow-run",
  "--allow-ffi",
  "--allow-sys=hostname,osRelease,uid",
];

/** How this process runs: its executable and its main module. */
export interface RunningProgram {
  execPath: string;
  mainModule: string;
}

/** A launcher of the same entry point under the same Deno, for `deno run`. */
export function launcherScript(program: RunningProgram): string {
  const quote = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;
  const main = new URL(program.mainModule).pathname;
  return `#!/bin/sh\nexec ${quote(program.execPath)} run --quiet ${BINARY_PERMISSIONS.join(" ")} ${
    quote(main)
  } "$@"\n`;
}

/** Whether `execPath` is the Deno runtime itself, i.e. dbop runs under `deno run`. */
export function isDenoRuntime(execPath: string): boolean {
  return /(^|\/)deno$/.test(execPath);
}

/** Puts dbop at `target` (mode 0755); says whether it copied the binary or wrote a launcher. */
export async function installSelf(
  target: string,
  program: RunningProgram = { execPath: Deno.execPath(), mainModule: Deno.mainModule },
): Promise<"binary" | "launcher"> {
  // Written beside the target and renamed, so a restarted init container never leaves half a file.
  const partial = `${target}.partial`;
  let kind: "binary" | "launcher";
  if (isDenoRuntime(program.execPath)) {
    await Deno.writeTextFile(partial, launcherScript(program));
    kind = "launcher";
  } else {
    await Deno.copyFile(program.execPath, partial);
    kind = "binary";
  }
  await Deno.chmod(partial, 0o755);
  await Deno.rename(partial, target);
  return kind;
}
