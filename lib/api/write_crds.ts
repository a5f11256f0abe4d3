/**
 * `deno task crds`: writes the generated DatabaseCluster CRD to
 * `crds/database.example.com_databaseclusters.yaml`. The output depends only
 * on the zod schemas, so running it twice changes nothing.
 *
 * @module
 */
import { CRD_PATH, renderCrdYaml } from "./crd.ts";

if (import.meta.main) {
  const target = new URL(`../../${CRD_PATH}`, import.meta.url);
  const text = renderCrdYaml();
  let current: string | undefined;
  try {
    current = await Deno.readTextFile(target);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  if (current !== text) await Deno.writeTextFile(target, text);
}
