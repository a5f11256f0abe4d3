/**
 * dbop: the DatabaseCluster operator. Command-line entry point.
 *
 * @module
 */
if (import.meta.main) {
  console.error("dbop: not implemented yet");
  Deno.exit(1);
}
