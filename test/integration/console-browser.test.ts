/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// The web console in a real browser (Debian's chromium, driven by puppeteer-core) against
// `hearth dev` on the test cluster with real worker processes: sign in, find the Function,
// fill the form generated from its Python type hints, see a bad value refused inline, run it and
// watch the progress bar move and the image arrive, push and see the task listed; a Function
// without a known signature gets the JSON editor; Workflows (graph coloured by a run's step
// states, the latest runs, a failed run's error) and Jobs pages; 404 pages.
// Then Argo CD's health.lua on the same live objects. Screenshots go to
// .hearth/screenshots/console/ for a person to look at.
import { it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { CustomObjectsApi } from "@kubernetes/client-node";
import puppeteer, { type Page } from "puppeteer-core";
import { parse } from "yaml";
import { ARGOCD_DIR } from "../../hack/gen-argocd.ts";
import { runHealthScripts } from "../../hack/lua-health.ts";
import { createClient } from "../../src/client/index.ts";
import { kubeConfigFromEnv, waitFor, withNamespace } from "../support/cluster.ts";
import { startDevMode } from "../support/dev-process.ts";

const SHOTS = join(process.cwd(), ".hearth", "screenshots", "console");
const GROUP = { group: "hearth.dev", version: "v1alpha1" };

function chromium(): string {
  for (const path of ["/usr/bin/chromium", "/usr/bin/chromium-browser"]) if (existsSync(path)) return path;
  // Installs Debian's package when missing (root, as in CI); fails with the reason otherwise.
  execFileSync("bash", ["hack/ensure-chromium.sh"], { stdio: "inherit" });
  return "/usr/bin/chromium";
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** waitForSelector that, on a timeout, says what the page showed instead. */
async function expectSelector(page: Page, selector: string, timeout = 30_000): Promise<void> {
  try {
    await page.waitForSelector(selector, { timeout });
  } catch (err) {
    const shown = await page.evaluate(() => document.querySelector("main")?.innerText ?? "").catch(() => "?");
    await shot(page, "failed").catch(() => undefined);
    throw new Error(`${selector} did not appear; the page shows: ${shown.slice(0, 1500)}`, { cause: err });
  }
}

async function text(page: Page, selector: string): Promise<string> {
  return page.$eval(selector, (el) => el.textContent);
}

it("the console: sign in, generated form, run with live progress, push, JSON fallback, workflows, jobs", { timeout: 300_000 }, async (t) => {
  const kubeconfig = process.env["HEARTH_KUBECONFIG"];
  assert.ok(kubeconfig, "HEARTH_KUBECONFIG must be set");
  const executablePath = chromium();
  mkdirSync(SHOTS, { recursive: true });
  const kc = kubeConfigFromEnv();
  const ns = await withNamespace(t, kc, "console");

  const dm = await startDevMode(t, { kubeconfig, namespace: ns });
  const { token, url } = dm;

  const custom = kc.makeApiClient(CustomObjectsApi);
  const create = async (plural: string, body: { metadata: Record<string, unknown> }): Promise<void> => {
    await custom.createNamespacedCustomObject({ ...GROUP, namespace: ns, plural, body: { ...body, metadata: { ...body.metadata, namespace: ns } } });
  };
  const painter = parse(readFileSync("examples/console-demo/function.yaml", "utf8")) as { metadata: Record<string, unknown> };
  await create("functions", painter);
  // No workers (scale to zero): no signature, so the page offers the JSON editor.
  await create("functions", {
    apiVersion: "hearth.dev/v1alpha1",
    kind: "Function",
    metadata: { name: "dormant" },
    spec: { image: "x/dormant:1", handler: "app:Model", runtime: "python", description: "Scaled to zero.", tags: ["idle"], warmPool: { minReplicas: 0, maxReplicas: 1 } },
  } as never);
  await create("workflows", {
    apiVersion: "hearth.dev/v1alpha1",
    kind: "Workflow",
    metadata: { name: "gallery" },
    spec: {
      start: "plan",
      steps: [
        { name: "plan", functionRef: { name: "painter" }, map: true, next: ["paint"] },
        { name: "paint", functionRef: { name: "painter" }, routes: ["frame", "retry"] },
        { name: "retry", functionRef: { name: "painter" }, next: ["frame"] },
        { name: "frame", functionRef: { name: "painter" }, accumulate: {} },
      ],
    },
  } as never);
  await waitFor(
    async () => {
      const obj = (await custom.getNamespacedCustomObject({ ...GROUP, namespace: ns, plural: "functions", name: "painter" })) as { status?: { conditions?: { type: string; status: string }[] } };
      return obj.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");
    },
    { timeoutMs: 120_000, what: `Function painter Ready; dev output:\n${dm.output.slice(-3000)}` },
  );
  // Workflow runs for the Workflows page: one that succeeds, and gallery, which fails at its map
  // step (painter returns an image, not a list).
  await create("workflows", { apiVersion: "hearth.dev/v1alpha1", kind: "Workflow", metadata: { name: "sketch" }, spec: { start: "paint", steps: [{ name: "paint", functionRef: { name: "painter" } }] } } as never);
  const client = createClient({ url, token });
  t.after(() => client.close());
  const sketchOut = await waitFor(() => client.workflow(`${ns}/sketch`).run({ prompt: "a fox", steps: 1 }, { timeoutMs: 60_000 }).catch(() => undefined), { timeoutMs: 60_000, what: "a run of Workflow sketch" });
  assert.ok(sketchOut !== undefined);
  const galleryRun = await waitFor(() => client.workflow(`${ns}/gallery`).push({ prompt: "a fox", steps: 1 }).catch(() => undefined), { timeoutMs: 60_000, what: "a run of Workflow gallery accepted" });
  await assert.rejects(galleryRun.result({ timeoutMs: 60_000 }));
  await create("jobs", { apiVersion: "hearth.dev/v1alpha1", kind: "Job", metadata: { name: "one-fox" }, spec: { functionRef: { name: "painter" }, invocation: "warm", input: { prompt: "a fox", steps: 1 } } } as never);

  const browser = await puppeteer.launch({ executablePath, headless: true, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
  t.after(() => browser.close());
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  const consoleErrors: string[] = [];
  page.on("pageerror", (err) => consoleErrors.push(String(err)));

  // Sign in: the token is asked once, then kept for the tab.
  await page.goto(`${url}/`);
  await page.waitForSelector("dialog#login[open]");
  await page.waitForFunction(() => document.querySelector("#login-error")?.textContent?.includes("Enter a caller token"));
  await shot(page, "01-sign-in");
  await page.type("#token", "wrong-token");
  await page.click("#login-form button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#login-error")?.textContent?.includes("did not accept"));
  await page.$eval("#token", (el) => ((el as HTMLInputElement).value = ""));
  await page.type("#token", token);
  await page.click("#login-form button[type=submit]");
  await page.waitForFunction(() => document.querySelector<HTMLDialogElement>("dialog#login")?.open === false);

  // Functions table with filters.
  await expectSelector(page, "#functions tbody a", 60_000);
  await page.waitForFunction(() => /Ready/.test(document.querySelector("#functions")?.textContent ?? ""), { timeout: 30_000 });
  assert.match(await text(page, "#functions"), /Painter/);
  assert.match(await text(page, "#functions"), /dormant/);
  await page.select("#f-tag", "idle");
  await page.waitForFunction(() => document.querySelectorAll("#functions tbody tr").length === 1 && /dormant/.test(document.querySelector("#functions tbody")?.textContent ?? ""));
  await page.select("#f-tag", "");
  await page.type("#f-text", "paint");
  await page.waitForFunction(() => document.querySelectorAll("#functions tbody tr").length === 1 && /Painter/.test(document.querySelector("#functions tbody")?.textContent ?? ""));
  await shot(page, "02-functions");

  // The Function page: readme rendered, a form from the Python type hints.
  await page.click("#functions tbody a");
  await page.waitForSelector("#try");
  await page.waitForSelector(".readme table");
  assert.match(await text(page, ".readme"), /stand-in for an image model/);
  assert.equal(await page.$eval("#in-steps", (el) => (el as HTMLInputElement).value), "8");
  assert.equal(await page.$eval("#in-style", (el) => el.tagName), "SELECT");
  assert.match(await text(page, "#signature-note"), /Python type hints/);
  assert.equal(await page.$eval("label[for=in-prompt]", (el) => el.textContent.trim()), "prompt *", "every field has a label");

  // A value of the wrong type is refused next to the field, and nothing is sent.
  const tasksBefore = await page.$$eval("#tasks tbody tr", (rows) => rows.length);
  await page.type("#in-prompt", "a red fox");
  await page.$eval("#in-steps", (el) => ((el as HTMLInputElement).value = ""));
  await page.type("#in-steps", "many");
  await page.click("#run");
  await page.waitForFunction(() => document.querySelector("#in-steps-error")?.textContent?.includes("whole number"));
  assert.equal(await page.$eval("#in-steps", (el) => el.getAttribute("aria-invalid")), "true");
  await new Promise((r) => setTimeout(r, 3000)); // a refresh of the task list
  assert.equal(await page.$$eval("#tasks tbody tr", (rows) => rows.length), tasksBefore, "no task was created");
  await shot(page, "03-invalid-input");

  // Run: the progress bar moves through intermediate values, then the image arrives.
  await page.$eval("#in-steps", (el) => ((el as HTMLInputElement).value = "6"));
  await page.select("#in-style", '"oil"');
  await page.click("#run");
  await page.waitForFunction(
    () => {
      const p = document.querySelector<HTMLProgressElement>("#progress");
      return p !== null && p.value > 0 && p.value < 1;
    },
    { timeout: 60_000 },
  );
  const midway = await page.$eval("#progress", (el) => (el as HTMLProgressElement).value);
  const midwayText = await text(page, "#progress-text");
  await shot(page, "04-progress");
  await page.waitForSelector("#output img", { timeout: 60_000 });
  assert.ok(midway > 0 && midway < 1, `progress seen mid-way: ${midway}`);
  assert.match(midwayText, /denoising step \d of 6/);
  assert.equal(await page.$eval("#progress", (el) => (el as HTMLProgressElement).value), 1);
  assert.match(await page.$eval("#output img", (el) => el.src), /^data:image\/png;base64,/);
  assert.ok(await page.$eval("#output img", (el) => el.naturalWidth === 96), "the PNG decodes");
  assert.match(await text(page, "#output pre"), /"style": "oil"/);
  await shot(page, "05-output");

  // Push: the task appears in the list.
  await page.click("#push");
  await page.waitForFunction(() => /Pushed task/.test(document.querySelector("#output")?.textContent ?? ""));
  await page.waitForFunction((n) => document.querySelectorAll("#tasks tbody tr").length >= n, { timeout: 20_000 }, tasksBefore + 2);
  await page.waitForFunction(() => [...document.querySelectorAll("#tasks tbody tr")].every((r) => /succeeded/.test(r.textContent)), { timeout: 60_000 });
  await shot(page, "06-pushed");

  // A Function whose workers never reported a signature: the JSON editor, checked before sending.
  await page.goto(`${url}/#/functions/${ns}/dormant`);
  await page.waitForSelector("#json-input");
  assert.equal(await page.$eval("#json-input", (el) => (el.closest(".field") as HTMLElement).hidden), false);
  assert.match(await text(page, "#signature-note"), /No signature known/);
  await page.$eval("#json-input", (el) => ((el as HTMLTextAreaElement).value = "{oops"));
  await page.click("#run");
  await page.waitForFunction(() => /not valid JSON/.test(document.querySelector("#form-error")?.textContent ?? ""));
  await shot(page, "07-json-editor");

  // Workflows: the graph drawn from the spec and coloured by the latest run's step states, the
  // runs listed, the selected run's steps in a table, a failed run's error said.
  await page.goto(`${url}/#/workflows`);
  await expectSelector(page, "svg.graph");
  const gallery = `section[data-workflow="${ns}/gallery"]`;
  const sketch = `section[data-workflow="${ns}/sketch"]`;
  assert.equal(await page.$$eval(`${gallery} svg.graph g.step`, (els) => els.length), 4);
  assert.equal(await page.$$eval(`${gallery} svg.graph path.edge.route`, (els) => els.length), 2);
  await expectSelector(page, `${sketch} .runs-table tbody tr`);
  assert.match(await text(page, `${sketch} .runs-table tbody tr`), /succeeded[\s\S]*1 of 1 done/);
  assert.equal(await page.$$eval(`${sketch} svg.graph g.step.status-succeeded`, (els) => els.length), 1);
  assert.match(await text(page, `${sketch} .steps-table tr[data-step="paint"]`), /paint\s*painter\s*succeeded/);
  await expectSelector(page, `${gallery} .runs-table tbody tr`);
  assert.match(await text(page, `${gallery} .runs-table tbody tr`), /failed/);
  assert.equal(await page.$$eval(`${gallery} svg.graph g.step.status-succeeded`, (els) => els.length), 1, "plan ran; the run failed after it");
  assert.match(await text(page, `${gallery} .steps-table tr[data-step="frame"]`), /not reached/);
  assert.match(await text(page, `${gallery} .run-steps .error`), /\S+: \S/);
  await shot(page, "08-workflows");
  // A second run of sketch: both listed, newest first; "Show" on the older one recolours the graph.
  await client.workflow(`${ns}/sketch`).run({ prompt: "a cat", steps: 1 }, { timeoutMs: 60_000 });
  await page.waitForFunction((sel) => document.querySelectorAll(`${sel} .runs-table tbody tr`).length === 2, { timeout: 20_000 }, sketch);
  await page.click(`${sketch} .runs-table tbody tr:nth-child(2) button`);
  await page.waitForFunction((sel) => document.querySelector(`${sel} .runs-table tbody tr:nth-child(2)`)?.classList.contains("selected"), {}, sketch);
  assert.equal(await page.$eval(`${sketch} .runs-table tbody tr:nth-child(2) button`, (el) => el.getAttribute("aria-pressed")), "true");

  // Jobs: the warm Job, complete.
  await page.goto(`${url}/#/jobs`);
  await expectSelector(page, "#jobs");
  await page.waitForFunction(() => /one-fox[\s\S]*Complete/.test(document.querySelector("#jobs")?.textContent ?? ""), { timeout: 60_000 });
  await shot(page, "09-jobs");

  // Unknown pages: a 404 page, never a stack trace.
  await page.goto(`${url}/#/nowhere`);
  await page.waitForFunction(() => document.querySelector("h1")?.textContent === "Not found");
  const res = await page.goto(`${url}/console/nowhere.html`);
  assert.equal(res?.status(), 404);
  assert.match(await text(page, "h1"), /Not found/);
  assert.deepEqual(consoleErrors, [], "no uncaught errors in the page");

  // Keyboard: the skip link is the first stop and moves focus to the content.
  await page.goto(`${url}/#/functions`);
  await page.waitForSelector("#functions");
  await page.focus("a.skip");
  assert.ok(await page.$eval("a.skip", (el) => el.getBoundingClientRect().left >= 0), "the skip link shows when focused");
  await page.keyboard.press("Enter");
  assert.equal(await page.evaluate(() => document.activeElement?.id), "main");
  assert.match(page.url(), /#\/functions$/, "the route did not change");
  // The filters and links are reachable with Tab, in order.
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement?.id), "f-text");

  // Argo CD's view of the same objects: the shipped health.lua on the live status the operator wrote.
  const live = async (plural: string, name: string): Promise<unknown> => custom.getNamespacedCustomObject({ ...GROUP, namespace: ns, plural, name });
  const lua = (kind: string): string => readFileSync(join(ARGOCD_DIR, "hearth.dev", kind, "health.lua"), "utf8");
  const health = runHealthScripts([
    { script: lua("Function"), obj: await live("functions", "painter") },
    { script: lua("Function"), obj: await live("functions", "dormant") },
    { script: lua("Job"), obj: await live("jobs", "one-fox") },
    { script: lua("Workflow"), obj: await live("workflows", "gallery") },
  ]);
  assert.deepEqual(
    health.map((h) => h.status),
    ["Healthy", "Suspended", "Healthy", "Healthy"],
    JSON.stringify(health),
  );

  assert.ok(dm.process.pid !== undefined);
  process.kill(dm.process.pid, "SIGINT");
  assert.equal(await dm.exited, 0, dm.output.slice(-2000));
});
