/**
 * What PostgreSQL refused of its configuration files. A reload never fails:
 * the postmaster logs what it cannot take and keeps the old value (a value
 * it cannot parse, such as `work_mem = '8XB'`), or keeps the whole file
 * (a parameter it does not know, a syntax error, any bad line in
 * pg_hba.conf but a `hostssl` line without SSL, which is loaded and never
 * matches). Asked afterwards, `pg_file_settings` (since 9.5) and
 * `pg_hba_file_rules` (since 10; the columns used here are the same on 15
 * and 18) read the files on disk again and name each line with an error. A
 * setting that only waits for a restart also shows an error there ("setting
 * could not be applied"); it is `pending_restart` in `pg_settings` and not a
 * rejection (so a bad value for a setting already pending a restart is not
 * seen until that restart). Rows that are `applied = false` with no error
 * are settings overridden by a later line of the same name, which is how
 * PostgreSQL reads a file, not a problem.
 *
 * A file PostgreSQL refuses also keeps it from starting again (at start
 * those errors are fatal), which is why a rejection is reported until a
 * check finds it fixed.
 *
 * @module
 */
import { type LocalServer, runSql } from "./commands.ts";

/** One line of postgresql.conf that PostgreSQL refused. */
export interface RejectedSetting {
  file: string;
  line: number;
  /** Null for a line that does not parse. */
  name: string | null;
  setting: string | null;
  error: string;
}

/** One line of pg_hba.conf that PostgreSQL refused. */
export interface RejectedHbaLine {
  line: number;
  error: string;
}

/** What the server refuses of the files on disk now. */
export interface Rejections {
  settings: RejectedSetting[];
  hbaFile: string;
  hba: RejectedHbaLine[];
}

/**
 * The one error of a single setting (a value PostgreSQL cannot take, or one that needs a
 * restart). Every other error of postgresql.conf (an unknown parameter, a syntax error, an
 * include that fails) is of the file as a whole: PostgreSQL then applies none of it.
 */
const SETTING_REFUSED = "setting could not be applied";

/**
 * SQL: whether postgresql.conf on disk has an error of the whole file. A reload of such a
 * file changes nothing, not even `pg_conf_load_time()`.
 */
export const FILE_REFUSED_SQL =
  `EXISTS (SELECT FROM pg_file_settings WHERE error IS NOT NULL AND error <> '${SETTING_REFUSED}')`;

/** pg_hba.conf errors that keep the file (the line is loaded and never matches). */
const NEVER_MATCHES = /record cannot match/;

/** Superuser only (both views are), which the instance manager's socket connection is. */
export const REJECTIONS_QUERY = `SELECT json_build_object(
  'settings', COALESCE((SELECT json_agg(json_build_object(
      'file', sourcefile, 'line', sourceline, 'name', name, 'setting', setting, 'error', error
    ) ORDER BY seqno)
    FROM pg_file_settings
    WHERE error IS NOT NULL
      AND (name IS NULL OR lower(name) NOT IN (SELECT name FROM pg_settings WHERE pending_restart))
  ), '[]'::json),
  'hbaFile', current_setting('hba_file'),
  'hba', COALESCE((SELECT json_agg(json_build_object('line', line_number, 'error', error)
    ORDER BY line_number) FROM pg_hba_file_rules WHERE error IS NOT NULL), '[]'::json)
);
`;

function isRow(value: unknown, fields: Record<string, string>): boolean {
  if (typeof value !== "object" || value === null) return false;
  return Object.entries(fields).every(([field, kinds]) => {
    const actual = (value as Record<string, unknown>)[field];
    return kinds.split("|").includes(actual === null ? "null" : typeof actual);
  });
}

/** Parses the JSON text psql printed for {@linkcode REJECTIONS_QUERY}. */
export function parseRejections(text: string): Rejections {
  const row = JSON.parse(text);
  const valid = typeof row?.hbaFile === "string" && Array.isArray(row.settings) &&
    Array.isArray(row.hba) &&
    row.settings.every((s: unknown) =>
      isRow(s, {
        file: "string",
        line: "number",
        name: "string|null",
        setting: "string|null",
        error: "string",
      })
    ) &&
    row.hba.every((h: unknown) => isRow(h, { line: "number", error: "string" }));
  if (!valid) throw new Error(`Unexpected answer to the rejections query: ${text.trim()}`);
  return row;
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

function quoted(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/**
 * One line naming each refused line by file, line number and PostgreSQL's error (the
 * server log has the reason in full); undefined when nothing is refused.
 */
export function describeRejections(rejections: Rejections): string | undefined {
  const problems = rejections.settings.map((s) => {
    const whole = s.error !== SETTING_REFUSED;
    const parts = [`${basename(s.file)} line ${s.line}`];
    if (s.name !== null) {
      parts.push(whole || s.setting === null ? s.name : `${s.name} = ${quoted(s.setting)}`);
    }
    parts.push(
      s.error +
        (whole
          ? `, so none of ${basename(s.file)}'s changes were applied`
          : ", its previous value stays"),
    );
    return parts.join(": ");
  });
  const hba = basename(rejections.hbaFile);
  problems.push(...rejections.hba.map((h) => `${hba} line ${h.line}: ${h.error}`));
  if (rejections.hba.some((h) => !NEVER_MATCHES.test(h.error))) {
    problems.push(`so the previous ${hba} stays`);
  }
  return problems.length === 0
    ? undefined
    : `PostgreSQL did not take its configuration as written: ${problems.join("; ")}`;
}

/** What the server at `server` refuses of its files now. */
export async function rejectedConfiguration(server: LocalServer): Promise<Rejections> {
  return parseRejections(await runSql(server, REJECTIONS_QUERY));
}
