// Handler signatures end to end: real Node and Python workers report their handler's input
// schema after setup(), the gateway keeps it per Function and `GET …/functions/{name}` returns
// it with the metadata; the console's read-only routes and static files answer with the caller
// token only.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { workerToken } from "../../src/auth/worker-token.ts";
import { createClient } from "../../src/client/index.ts";
import { StaticCatalog } from "../../src/gateway/catalog.ts";
import { MAIN, startGateway, startPythonWorker, startWorker, until, type TestGateway, type WorkerProcess } from "./harness.ts";

const TOKEN = "console-e2e-token";
// The worker API is closed without a signing key: workers present their Function's token.
const KEY = "console-e2e-signing-key";
const tokenFor = (fn: string): string => workerToken(KEY, "default", fn.split("/")[1] ?? "");

function manifest(name: string, spec: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: "hearth.dev/v1alpha1", kind: "Function", metadata: { name, namespace: "default" }, spec: { image: "x/y:1", handler: "m:f", ...spec } };
}

const catalog = new StaticCatalog([
  manifest("painter-node", { runtime: "node", title: "Painter (Node)", description: "Paints a prompt.", tags: ["demo", "node"], codeURL: "https://example.com/painter", readme: { inline: "# Painter\n\nPaints **slowly**." } }),
  manifest("painter-py", { runtime: "python", tags: ["demo"], readme: { configMapKeyRef: { name: "painter-readme", key: "README.md" } } }),
  manifest("schema-node", { runtime: "node" }),
  manifest("silent", { runtime: "node", readme: { configMapKeyRef: { name: "missing", key: "README.md" } } }),
  { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "painter-readme", namespace: "default" }, data: { "README.md": "## From a ConfigMap" } },
  { apiVersion: "hearth.dev/v1alpha1", kind: "Workflow", metadata: { name: "flow", namespace: "default" }, spec: { start: "a", steps: [{ name: "a", functionRef: { name: "painter-node" }, next: ["b"] }, { name: "b", functionRef: { name: "painter-py" } }] } },
]);

interface FunctionDoc {
  title: string;
  tags: string[];
  signatureKnown: boolean;
  readme: { source: string; markdown?: string; error?: string };
  signature: { known: boolean; source?: string; inputSchema?: { properties: Record<string, Record<string, unknown>>; required?: string[] } };
  warmWorkers: number;
}

describe("handler signature and console API", () => {
  let gw: TestGateway;
  const workers: WorkerProcess[] = [];
  const auth = { authorization: `Bearer ${TOKEN}` };
  const get = async (path: string, headers: Record<string, string> = auth): Promise<Response> => fetch(`${gw.gateway.url}${path}`, { headers });
  const fnDoc = async (name: string): Promise<FunctionDoc> => (await (await get(`/v1/namespaces/default/functions/${name}`)).json()) as FunctionDoc;

  before(async () => {
    gw = await startGateway([{ name: "painter-node" }, { name: "painter-py" }, { name: "schema-node" }, { name: "silent" }], { catalog, auth: { callerTokens: [TOKEN], workerSigningKey: KEY } });
    workers.push(startWorker({ gatewayUrl: gw.gateway.url, fn: "default/painter-node", handler: "painter:Painter", env: { HEARTH_WORKER_TOKEN: tokenFor("default/painter-node") } }));
    workers.push(startWorker({ gatewayUrl: gw.gateway.url, fn: "default/schema-node", handler: "painter:withSchema", env: { HEARTH_WORKER_TOKEN: tokenFor("default/schema-node") } }));
    workers.push(startPythonWorker({ gatewayUrl: gw.gateway.url, fn: "default/painter-py", handler: "painter:Painter", env: { HEARTH_WORKER_TOKEN: tokenFor("default/painter-py") } }));
  });

  after(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await gw.stop();
  });

  it("a Node handler reports names and literal defaults", { timeout: 60_000 }, async () => {
    const doc = await until(async () => {
      const d = await fnDoc("painter-node");
      return d.signature.known ? d : undefined;
    }, "painter-node's signature", 40_000);
    assert.equal(doc.title, "Painter (Node)");
    assert.deepEqual(doc.tags, ["demo", "node"]);
    assert.equal(doc.signature.source, "parameters");
    assert.deepEqual(doc.signature.inputSchema, {
      type: "object",
      properties: { prompt: {}, steps: { default: 3, type: "integer" }, scale: { default: 1.5, type: "number" }, style: { default: "ink", type: "string" } },
      required: ["prompt"],
      additionalProperties: false,
    });
    assert.equal(doc.readme.source, "inline");
    assert.match(doc.readme.markdown ?? "", /Paints \*\*slowly\*\*/);
  });

  it("a Node handler's exported inputSchema wins", { timeout: 60_000 }, async () => {
    const doc = await until(async () => {
      const d = await fnDoc("schema-node");
      return d.signature.known ? d : undefined;
    }, "schema-node's signature", 40_000);
    assert.equal(doc.signature.source, "exported");
    assert.deepEqual(doc.signature.inputSchema?.required, ["q"]);
  });

  it("a Python handler's type hints become JSON Schema", { timeout: 60_000 }, async () => {
    const doc = await until(async () => {
      const d = await fnDoc("painter-py");
      return d.signature.known ? d : undefined;
    }, "painter-py's signature", 40_000);
    assert.equal(doc.signature.source, "type-hints");
    const p = doc.signature.inputSchema?.properties ?? {};
    assert.deepEqual(Object.keys(p), ["prompt", "steps", "scale", "style", "seed", "tags", "image"], "ctx is not an input");
    assert.deepEqual(p["prompt"], { type: "string" });
    assert.deepEqual(p["steps"], { type: "integer", default: 3 });
    assert.deepEqual(p["scale"], { type: "number", default: 1.5 });
    assert.deepEqual(p["style"], { enum: ["ink", "oil"], type: "string", default: "ink" });
    assert.deepEqual(p["seed"], { type: ["integer", "null"], default: null });
    assert.deepEqual(p["tags"], { type: "array", items: { type: "string" }, default: [] });
    assert.deepEqual(p["image"], { type: ["string", "null"], format: "uri", default: null });
    assert.deepEqual(doc.signature.inputSchema?.required, ["prompt"]);
    assert.equal(doc.readme.source, "configMap");
    assert.equal(doc.readme.markdown, "## From a ConfigMap");
    // The typed call still runs, with progress.
    const client = createClient({ url: gw.gateway.url, token: TOKEN });
    try {
      const out = (await client.function("default/painter-py").run({ prompt: "a cat", steps: 2 }, { timeoutMs: 30_000 })) as { text: string };
      assert.equal(out.text, "painted: a cat");
    } finally {
      client.close();
    }
  });

  it("a Function without workers has no signature, and a missing readme ConfigMap is said", async () => {
    const doc = await fnDoc("silent");
    assert.equal(doc.signature.known, false);
    assert.equal(doc.signatureKnown, false);
    assert.match(doc.readme.error ?? "", /has no key README.md|missing/);
  });

  it("lists Functions, Workflows, Jobs and recent tasks; all need the caller token", async () => {
    const list = (await (await get("/v1/functions")).json()) as { functions: { name: string; signatureKnown: boolean }[] };
    assert.deepEqual(list.functions.map((f) => f.name), ["painter-node", "painter-py", "schema-node", "silent"]);
    const wfs = (await (await get("/v1/workflows")).json()) as { workflows: { name: string; steps: unknown[] }[] };
    assert.equal(wfs.workflows[0]?.name, "flow");
    assert.equal(wfs.workflows[0]?.steps.length, 2);
    const jobs = (await (await get("/v1/jobs")).json()) as { jobs: unknown[] };
    assert.deepEqual(jobs.jobs, []);
    const tasks = (await (await get("/v1/namespaces/default/functions/painter-py/tasks?limit=5")).json()) as { tasks: { status: string; attempts: number }[] };
    assert.ok(tasks.tasks.length >= 1);
    assert.equal(tasks.tasks[0]?.status, "succeeded");
    for (const path of ["/v1/functions", "/v1/workflows", "/v1/jobs", "/v1/namespaces/default/functions/silent", "/v1/namespaces/default/functions/silent/tasks"]) {
      assert.equal((await get(path, {})).status, 401, path);
    }
    assert.equal((await get("/v1/namespaces/default/functions/nope")).status, 404);
    assert.equal((await get("/v1/namespaces/default/functions/silent/tasks?limit=0")).status, 400);
  });

  it("lists a Workflow's runs (none yet here) and says which Functions' signatures are known in GET /v1/setup", async () => {
    assert.deepEqual(await (await get("/v1/namespaces/default/workflows/flow/runs")).json(), { runs: [] });
    assert.equal((await get("/v1/namespaces/default/workflows/flow/runs", {})).status, 401);
    assert.equal((await get("/v1/namespaces/default/workflows/nope/runs")).status, 404);
    assert.equal((await get("/v1/namespaces/default/workflows/flow/runs?limit=x")).status, 400);
    // The operator's setup-status poller copies this into status.setup.signatureKnown.
    await until(async () => {
      const setup = (await (await get("/v1/setup")).json()) as { functions: { name: string; signatureKnown?: boolean }[] };
      const known = new Map(setup.functions.map((f) => [f.name, f.signatureKnown]));
      return known.get("painter-node") === true && known.get("painter-py") === true;
    }, "signatureKnown in GET /v1/setup");
  });

  it("hearth list and hearth describe print readable summaries", { timeout: 60_000 }, async () => {
    const cli = async (...args: string[]): Promise<{ stdout: string; code: number }> => {
      try {
        const { stdout } = await promisify(execFile)(process.execPath, [MAIN, ...args, `--url=${gw.gateway.url}`], { env: { PATH: process.env["PATH"] ?? "", HEARTH_TOKEN: TOKEN } });
        return { stdout, code: 0 };
      } catch (err) {
        const e = err as { stdout?: string; stderr?: string; code?: number };
        return { stdout: `${e.stdout ?? ""}${e.stderr ?? ""}`, code: e.code ?? 1 };
      }
    };
    const list = await cli("list");
    assert.equal(list.code, 0, list.stdout);
    const lines = list.stdout.trim().split("\n");
    assert.match(lines[0] ?? "", /^NAMESPACE\s+NAME\s+READY\s+GPU\s+WARM\/BUSY\s+QUEUE\s+SIGNATURE\s+TAGS\s+DESCRIPTION$/);
    assert.match(list.stdout, /default\s+painter-node\s+Unknown\s+cpu\s+1\/0\s+0\s+known\s+demo,node\s+Paints a prompt\./);
    assert.match(list.stdout, /silent .*\s-\s/);
    const tagged = await cli("list", "--tag", "node");
    assert.equal(tagged.stdout.trim().split("\n").length, 2, tagged.stdout);
    const described = await cli("describe", "fn/painter-py");
    assert.equal(described.code, 0, described.stdout);
    assert.match(described.stdout, /Name:\s+default\/painter-py/);
    assert.match(described.stdout, /Signature:\s+from type-hints/);
    assert.match(described.stdout, /prompt: string\n/);
    assert.match(described.stdout, /style\?: one of "ink", "oil" = "ink"/);
    assert.match(described.stdout, /image\?: string \| null \(uri\) = null/);
    assert.match(described.stdout, /Readme:\s+\(configMap\)\n\s+## From a ConfigMap/);
    assert.match(described.stdout, /Recent tasks:\n\s+ID\s+STATUS\s+ATTEMPTS[\s\S]*succeeded/);
    const missing = await cli("describe", "default/nope");
    assert.equal(missing.code, 1);
    assert.match(missing.stdout, /NotFound: function default\/nope not found/);
    const bad = await cli("describe", "a/b/c");
    assert.equal(bad.code, 2);
  });

  it("serves the console without a token and a 404 page for unknown pages", async () => {
    const index = await get("/", {});
    assert.equal(index.status, 200);
    assert.match(index.headers.get("content-type") ?? "", /text\/html/);
    assert.match(index.headers.get("content-security-policy") ?? "", /default-src 'self'/);
    assert.match(await index.text(), /<script type="module" src="\/console\/app.js">/);
    assert.equal((await get("/console/app.js", {})).status, 200);
    const missing = await get("/console/../../package.json", {});
    assert.equal(missing.status, 404);
    const page = await get("/console/nope.js", {});
    assert.equal(page.status, 404);
    assert.match(await page.text(), /Not found/);
  });
});
