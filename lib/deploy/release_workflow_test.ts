import assert from "node:assert/strict";
import { parse } from "yaml";
import { VERSION } from "../version.ts";

interface Step {
  id?: string;
  run?: string;
  with?: Record<string, unknown>;
}

interface Workflow {
  jobs: Record<string, { needs?: string | string[]; steps: Step[] }>;
}

const root = new URL("../../", import.meta.url);

async function readWorkflow(): Promise<Workflow> {
  return parse(await Deno.readTextFile(new URL(".github/workflows/release.yml", root)));
}

/** The image tag the manifests pin, read from both places that state it. */
async function manifestPins(): Promise<string[]> {
  const deployment = await Deno.readTextFile(new URL("deploy/manager/deployment.yaml", root));
  const kustomization = parse(
    await Deno.readTextFile(new URL("deploy/default/kustomization.yaml", root)),
  ) as { images: { name: string; newTag: string }[] };
  const image = deployment.match(/image: ghcr\.io\/dbop\/dbop:(\S+)/)?.[1];
  return [String(image), ...kustomization.images.map((entry) => String(entry.newTag))];
}

Deno.test("release.yml publishes the image only after the job that runs deno task check", async () => {
  const { jobs } = await readWorkflow();
  assert.ok(jobs.binaries.steps.some((step) => step.run === "deno task check"));
  assert.deepEqual([jobs.image.needs].flat(), ["binaries"]);
});

Deno.test("release.yml tags the image as the manifests pin it: the git tag without its v", async () => {
  const { jobs } = await readWorkflow();
  const version = jobs.image.steps.find((step) => step.id === "version");
  assert.match(String(version?.run), /tag="\$\{GITHUB_REF_NAME#v\}"/);
  const push = jobs.image.steps.find((step) => step.with?.push === true);
  assert.equal(
    push?.with?.tags,
    "ghcr.io/${{ github.repository }}:${{ steps.version.outputs.tag }}",
  );
  // The pin is the bare version, so stripping the tag's `v` gives exactly the pin.
  assert.deepEqual(await manifestPins(), [VERSION, VERSION]);
  const denoJson = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
  assert.equal(denoJson.version, VERSION);
});
