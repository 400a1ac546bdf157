// The Hearth console: Functions (table, filters, a page per Function with its readme, a form
// generated from the handler's signature, Run/Push, live progress, recent tasks), Workflows
// (the graph, coloured by a run's step states, and the latest runs) and Jobs. Plain ES modules
// and DOM calls, served by the gateway; it talks only to
// the gateway's API (docs/protocol.md) with the caller token, asked once per tab.
import { fieldsOf, initialText, readForm, readJson } from "./form.js";
import { renderGraph } from "./graph.js";
import { renderMarkdown } from "./markdown.js";

const TOKEN_KEY = "hearth.token";
const main = document.getElementById("main");
let refreshTimer;
let viewGeneration = 0;
/** Counts route() calls: only the latest one may show its error. */
let routeSeq = 0;

// ---- DOM and API helpers ---------------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

class ApiError extends Error {
  constructor(status, type, message, body) {
    super(message);
    this.status = status;
    this.type = type;
    this.body = body;
  }
}

function headers(extra = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { ...extra, authorization: `Bearer ${token}` } : extra;
}

async function api(path, init = {}) {
  // The token this request carries: a 401 for a token the user has since replaced says nothing
  // about the new one (a late answer must not re-open the sign-in dialog over a signed-in page).
  const sent = sessionStorage.getItem(TOKEN_KEY);
  let res;
  try {
    res = await fetch(path, { ...init, headers: headers(init.headers ?? {}) });
  } catch {
    throw new ApiError(0, "Unreachable", "cannot reach the gateway");
  }
  const text = await res.text();
  let body;
  try {
    body = text === "" ? null : JSON.parse(text);
  } catch {
    body = text;
  }
  if (res.status === 401) {
    if (sessionStorage.getItem(TOKEN_KEY) === sent) {
      askToken(sent === null ? "Enter a caller token to use the console." : "The gateway did not accept the token: enter a caller token.");
    }
    throw new ApiError(401, "Unauthorized", "sign in to continue");
  }
  if (!res.ok) {
    const e = body && typeof body === "object" && body.error ? body.error : { type: `HTTP ${res.status}`, message: typeof body === "string" ? body.slice(0, 300) : "" };
    throw new ApiError(res.status, e.type, e.message, body);
  }
  return body;
}

function errorText(err) {
  if (err instanceof ApiError) return err.type && err.message ? `${err.type}: ${err.message}` : err.message || err.type;
  return "something went wrong (see the browser console)";
}

function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

function duration(a, b) {
  if (!a || !b) return "";
  const ms = new Date(b).getTime() - new Date(a).getTime();
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function statusBadge(cond) {
  if (!cond) return h("span", { class: "badge warn" }, "Unknown");
  const cls = cond.status === "True" ? "ok" : cond.reason === "Progressing" || cond.reason === "ScaledToZero" ? "warn" : "bad";
  const text = cond.status === "True" ? "Ready" : cond.reason || "Not ready";
  return h("span", { class: `badge ${cls}`, title: cond.message || "" }, text);
}

function gpuText(gpu) {
  if (!gpu) return "CPU";
  const what = gpu.type ? gpu.type.toUpperCase() : "GPU";
  if (gpu.split && gpu.split > 1) return `${what} ÷ ${gpu.split}`;
  return `${gpu.count ?? 1} × ${what}`;
}

function setView(title, ...content) {
  viewGeneration++;
  clearInterval(refreshTimer);
  document.title = `${title} · Hearth`;
  main.replaceChildren(...content);
  const h1 = main.querySelector("h1");
  (h1 ?? main).setAttribute("tabindex", "-1");
  (h1 ?? main).focus({ preventScroll: true });
  return viewGeneration;
}

function every(ms, gen, fn) {
  refreshTimer = setInterval(() => {
    if (gen === viewGeneration && !document.hidden) fn().catch(() => {});
  }, ms);
}

// ---- sign-in -------------------------------------------------------------------------------

const dialog = document.getElementById("login");
const signout = document.getElementById("signout");

function askToken(message) {
  document.getElementById("login-error").textContent = message ?? "";
  if (!dialog.open) dialog.showModal();
  document.getElementById("token").focus();
}

document.getElementById("login-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const token = document.getElementById("token").value.trim();
  if (token === "") {
    document.getElementById("login-error").textContent = "Enter a token.";
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  signout.hidden = false;
  dialog.close();
  route();
});

signout.addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  signout.hidden = true;
  askToken("");
});
signout.hidden = sessionStorage.getItem(TOKEN_KEY) === null;

// ---- Functions -----------------------------------------------------------------------------

const filters = { text: "", tag: "", ready: "all", namespace: "" };

function matches(fn) {
  const t = filters.text.toLowerCase();
  if (t && ![fn.name, fn.title, fn.description ?? "", fn.namespace].some((s) => s.toLowerCase().includes(t))) return false;
  if (filters.tag && !fn.tags.includes(filters.tag)) return false;
  if (filters.namespace && fn.namespace !== filters.namespace) return false;
  const ready = fn.ready?.status === "True";
  if (filters.ready === "ready" && !ready) return false;
  if (filters.ready === "notready" && ready) return false;
  return true;
}

function functionRow(fn) {
  return h(
    "tr",
    {},
    h("td", {}, h("a", { href: `#/functions/${encodeURIComponent(fn.namespace)}/${encodeURIComponent(fn.name)}` }, fn.title), fn.title !== fn.name ? h("div", { class: "muted" }, `${fn.namespace}/${fn.name}`) : h("div", { class: "muted" }, fn.namespace)),
    h("td", {}, statusBadge(fn.ready)),
    h("td", {}, gpuText(fn.gpu)),
    h("td", { class: "num" }, `${fn.warmWorkers} / ${fn.busyWorkers}`),
    h("td", { class: "num" }, String(fn.queueDepth)),
    h("td", {}, fn.tags.map((t) => h("span", { class: "tag" }, t))),
    h("td", {}, fn.description ?? ""),
  );
}

async function functionsView() {
  const gen = setView("Functions", h("h1", {}, "Functions"), h("p", { class: "muted" }, "Loading…"));
  const data = await api("/v1/functions");
  if (gen !== viewGeneration) return;
  const tags = [...new Set(data.functions.flatMap((f) => f.tags))].sort();
  const namespaces = [...new Set(data.functions.map((f) => f.namespace))].sort();
  const body = h("tbody");
  const count = h("caption", { "aria-live": "polite" });
  let list = data.functions;
  const draw = () => {
    const shown = list.filter(matches);
    body.replaceChildren(...(shown.length ? shown.map(functionRow) : [h("tr", {}, h("td", { colspan: "7", class: "muted" }, list.length ? "No Function matches the filters." : "No Functions yet: kubectl apply one."))]));
    count.textContent = `${shown.length} of ${list.length} Functions`;
  };
  const onInput = (key) => (ev) => {
    filters[key] = ev.target.value;
    draw();
  };
  const select = (id, label, key, options) =>
    h("div", {}, h("label", { for: id }, label), h("select", { id, onchange: onInput(key) }, options.map(([v, text]) => h("option", { value: v, selected: filters[key] === v }, text))));
  main.replaceChildren(
    h("h1", {}, "Functions"),
    h(
      "div",
      { class: "filters", role: "search" },
      h("div", {}, h("label", { for: "f-text" }, "Search"), h("input", { id: "f-text", type: "search", value: filters.text, placeholder: "name, title or description", oninput: onInput("text") })),
      select("f-ready", "Readiness", "ready", [["all", "All"], ["ready", "Ready"], ["notready", "Not ready"]]),
      select("f-tag", "Tag", "tag", [["", "Any tag"], ...tags.map((t) => [t, t])]),
      select("f-ns", "Namespace", "namespace", [["", "All namespaces"], ...namespaces.map((n) => [n, n])]),
    ),
    h(
      "table",
      { id: "functions" },
      count,
      h("thead", {}, h("tr", {}, ...["Function", "Ready", "GPU", "Warm / busy", "Queue", "Tags", "Description"].map((c, i) => h("th", { scope: "col", class: i === 3 || i === 4 ? "num" : undefined }, c)))),
      body,
    ),
  );
  main.querySelector("h1").setAttribute("tabindex", "-1");
  draw();
  every(3000, gen, async () => {
    list = (await api("/v1/functions")).functions;
    draw();
  });
}

// ---- a Function ---------------------------------------------------------------------------

function fieldControl(field, id, errId) {
  const common = { id, name: field.name, "aria-describedby": `${errId} ${id}-help`, required: field.required && field.kind !== "boolean" };
  const text = initialText(field);
  switch (field.kind) {
    case "boolean":
      return h("input", { ...common, type: "checkbox", checked: text === "true" });
    case "enum":
      return h(
        "select",
        common,
        field.required ? null : h("option", { value: "" }, "—"),
        field.options.map((o) => h("option", { value: JSON.stringify(o), selected: JSON.stringify(o) === text }, typeof o === "string" ? o : JSON.stringify(o))),
      );
    case "integer":
    case "number":
      return h("input", { ...common, type: "text", inputmode: field.kind === "integer" ? "numeric" : "decimal", value: text });
    case "url":
      return h("input", { ...common, type: "url", value: text, placeholder: "https://…" });
    case "array":
    case "object":
    case "json":
      return h("textarea", { ...common, rows: "3" }, text);
    default:
      return h("input", { ...common, type: "text", value: text });
  }
}

function controlText(el) {
  return el.type === "checkbox" ? (el.checked ? "true" : "false") : el.value;
}

function renderOutput(target, task) {
  target.replaceChildren();
  if (task.status !== "succeeded") {
    const e = task.error ?? { type: task.status, message: "" };
    target.append(h("p", { class: "error", role: "alert" }, `${e.type}: ${e.message}`), h("p", { class: "muted" }, `Task ${task.id}, attempt ${e.attempt ?? task.attempts}`));
    return;
  }
  const out = task.output;
  const images = [];
  const strip = (v) => {
    if (typeof v === "string" && /^data:image\/(png|jpeg|gif|webp|svg\+xml);base64,/.test(v)) {
      images.push(v);
      return `<image ${images.length}>`;
    }
    if (Array.isArray(v)) return v.map(strip);
    if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, strip(x)]));
    return v;
  };
  const shown = strip(out);
  if (images.length) target.append(h("div", { class: "output-images" }, images.map((src, i) => h("img", { src, alt: `output image ${i + 1}` }))));
  if (!(typeof out === "string" && images.length === 1)) {
    let text = typeof shown === "string" ? shown : JSON.stringify(shown, null, 2);
    if (text.length > 200_000) text = `${text.slice(0, 200_000)}\n… (${text.length - 200_000} more characters)`;
    target.append(h("pre", { class: "output", tabindex: "0", "aria-label": "Output" }, text));
  }
  target.append(h("p", { class: "muted" }, `Task ${task.id} · ${task.attempts} attempt${task.attempts === 1 ? "" : "s"} · ${duration(task.startedAt, task.finishedAt)}`));
}

/** Follows a task's Server-Sent Events (fetch: EventSource cannot send the token). */
async function follow(id, onEvent, signal) {
  const res = await fetch(`/v1/tasks/${encodeURIComponent(id)}/events`, { headers: headers({ accept: "text/event-stream" }), signal });
  if (!res.ok || res.body === null) throw new ApiError(res.status, `HTTP ${res.status}`, "cannot follow the task's events");
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let cut;
    while ((cut = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      let event = "message";
      let data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).trim();
      }
      if (data === "") continue;
      const doc = JSON.parse(data);
      onEvent(event, doc);
      if (event === "done") return;
    }
  }
}

function tasksTable(tasks, onShow) {
  if (!tasks.length) return h("p", { class: "muted" }, "No tasks yet.");
  return h(
    "table",
    { id: "tasks" },
    h("caption", {}, `The ${tasks.length} most recent tasks`),
    h("thead", {}, h("tr", {}, ...["Task", "Status", "Attempts", "Created", "Took", "Error"].map((c) => h("th", { scope: "col" }, c)))),
    h(
      "tbody",
      {},
      tasks.map((t) =>
        h(
          "tr",
          { "data-task": t.id },
          h("td", {}, h("button", { type: "button", class: "link", onclick: () => onShow(t.id), "aria-label": `Show task ${t.id}` }, t.id.slice(0, 12))),
          h("td", { class: `status-${t.status}` }, t.status, t.progress && t.status === "running" ? ` ${Math.round(t.progress.value * 100)}%` : ""),
          h("td", { class: "num" }, String(t.attempts)),
          h("td", {}, when(t.createdAt)),
          h("td", {}, duration(t.startedAt, t.finishedAt)),
          h("td", {}, t.error ? `${t.error.type}: ${t.error.message.slice(0, 160)}` : ""),
        ),
      ),
    ),
  );
}

async function functionView(ns, name) {
  const gen = setView(name, h("h1", {}, name), h("p", { class: "muted" }, "Loading…"));
  let fn;
  try {
    fn = await api(`/v1/namespaces/${encodeURIComponent(ns)}/functions/${encodeURIComponent(name)}`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return notFound(`There is no Function ${ns}/${name}.`);
    throw err;
  }
  if (gen !== viewGeneration) return;
  document.title = `${fn.title} · Hearth`;
  const base = `/v1/namespaces/${encodeURIComponent(ns)}/functions/${encodeURIComponent(name)}`;

  // Facts and readme.
  const facts = h(
    "dl",
    { class: "facts" },
    h("dt", {}, "Status"),
    h("dd", {}, statusBadge(fn.ready), fn.ready?.message ? h("span", { class: "muted" }, ` ${fn.ready.message}`) : ""),
    h("dt", {}, "GPU"),
    h("dd", {}, gpuText(fn.gpu), fn.gpu?.fraction ? ` (${fn.gpu.fraction} per worker)` : ""),
    h("dt", {}, "Workers"),
    h("dd", { id: "workers" }, `${fn.warmWorkers} warm, ${fn.busyWorkers} busy · queue ${fn.queueDepth}`),
    h("dt", {}, "Runtime"),
    h("dd", {}, `${fn.runtime} · ${fn.handler ?? ""} · ${fn.invocation}`),
    fn.codeURL ? [h("dt", {}, "Code"), h("dd", {}, h("a", { href: fn.codeURL, rel: "noopener noreferrer" }, fn.codeURL))] : null,
    fn.tags.length ? [h("dt", {}, "Tags"), h("dd", {}, fn.tags.map((t) => h("span", { class: "tag" }, t)))] : null,
  );
  const readme = h("section", { class: "readme", "aria-labelledby": "readme-title" }, h("h2", { id: "readme-title" }, "Readme"));
  if (fn.readme.markdown !== undefined) {
    const div = h("div");
    div.innerHTML = renderMarkdown(fn.readme.markdown); // escaped by renderMarkdown
    readme.append(div);
  } else if (fn.readme.error) readme.append(h("p", { class: "error" }, fn.readme.error));
  else readme.append(h("p", { class: "muted" }, "No readme: set spec.readme on the Function."));

  // The form.
  const fields = fn.signature.known ? fieldsOf(fn.signature.inputSchema) : undefined;
  const formErr = h("p", { id: "form-error", class: "error", role: "alert" });
  const jsonBox = h("textarea", { id: "json-input", "aria-describedby": "form-error json-help", spellcheck: "false" }, fields ? JSON.stringify(defaultsOf(fields), null, 2) : "{}");
  const jsonField = h("div", { class: "field" }, h("label", { for: "json-input" }, "Input (JSON)"), jsonBox, h("p", { id: "json-help", class: "help" }, "The whole input: an object of named arguments, an array, or a single value."));
  const formFields = (fields ?? []).map((f) => {
    const id = `in-${f.name}`;
    const errId = `${id}-error`;
    const label = h("label", { for: id }, f.label, f.required ? h("span", { "aria-hidden": "true" }, " *") : "");
    const control = fieldControl(f, id, errId);
    return h("div", { class: "field", "data-field": f.name }, f.kind === "boolean" ? h("div", {}, control, " ", label) : [label, control], h("p", { id: `${id}-help`, class: "help" }, f.help), h("p", { id: errId, class: "error" }));
  });
  let jsonMode = fields === undefined;
  const fieldsBox = h("div", { id: "fields" }, formFields);
  const toggle = h("button", { type: "button", class: "link", id: "toggle-json", "aria-pressed": String(jsonMode) }, "Edit as JSON");
  const sync = () => {
    fieldsBox.hidden = jsonMode;
    jsonField.hidden = !jsonMode;
    toggle.setAttribute("aria-pressed", String(jsonMode));
    toggle.textContent = jsonMode ? "Use the form" : "Edit as JSON";
    toggle.hidden = fields === undefined;
  };
  toggle.addEventListener("click", () => {
    if (!jsonMode) {
      const r = collectForm(false);
      if (r.input !== undefined) jsonBox.value = JSON.stringify(r.input, null, 2);
    }
    jsonMode = !jsonMode;
    sync();
  });
  const collectForm = (show) => {
    const texts = {};
    for (const f of fields ?? []) texts[f.name] = controlText(document.getElementById(`in-${f.name}`));
    const r = readForm(fields ?? [], texts);
    if (show) {
      for (const f of fields ?? []) {
        const el = document.getElementById(`in-${f.name}`);
        const msg = r.errors?.[f.name] ?? "";
        document.getElementById(`in-${f.name}-error`).textContent = msg;
        if (msg) el.setAttribute("aria-invalid", "true");
        else el.removeAttribute("aria-invalid");
      }
    }
    return r;
  };
  const collect = () => {
    formErr.textContent = "";
    if (jsonMode) {
      const r = readJson(jsonBox.value);
      if (r.error) {
        formErr.textContent = r.error;
        jsonBox.setAttribute("aria-invalid", "true");
        jsonBox.focus();
        return undefined;
      }
      jsonBox.removeAttribute("aria-invalid");
      return { input: r.input };
    }
    const r = collectForm(true);
    if (r.errors) {
      formErr.textContent = `Fix ${Object.keys(r.errors).length === 1 ? "the field" : "the fields"} marked above.`;
      main.querySelector('[aria-invalid="true"]')?.focus();
      return undefined;
    }
    return { input: r.input };
  };

  const progress = h("progress", { id: "progress", max: "1", value: "0", "aria-label": "Task progress" });
  const progressText = h("p", { id: "progress-text", class: "muted", role: "status", "aria-live": "polite" });
  const progressBox = h("div", { id: "progress-box", hidden: true }, progress, progressText);
  const output = h("div", { id: "output", "aria-live": "polite" });
  const tasksBox = h("div", { id: "tasks-box" });
  let running;

  const submit = async (kind) => {
    const got = collect();
    if (got === undefined) return;
    runBtn.disabled = pushBtn.disabled = true;
    try {
      const pushed = await api(`${base}:push`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(got.input) });
      await refreshTasks();
      if (kind === "push") {
        output.replaceChildren(h("p", { role: "status" }, `Pushed task ${pushed.id}: it is in the list below.`));
        return;
      }
      running?.abort();
      running = new AbortController();
      progressBox.hidden = false;
      progress.value = 0;
      progressText.textContent = `Task ${pushed.id} queued…`;
      output.replaceChildren();
      await follow(
        pushed.id,
        (event, doc) => {
          if (event === "progress") {
            progress.value = doc.value;
            progressText.textContent = `${Math.round(doc.value * 100)}%${doc.message ? ` · ${doc.message}` : ""}`;
          } else if (event === "status") {
            if (doc.progress) progress.value = doc.progress.value;
            if (!doc.progress) progressText.textContent = `Task ${doc.id} ${doc.status}…`;
          } else if (event === "done") {
            if (doc.status === "succeeded") progress.value = 1;
            progressText.textContent = `Task ${doc.id} ${doc.status}.`;
            renderOutput(output, doc);
          }
        },
        running.signal,
      );
      await refreshTasks();
    } catch (err) {
      if (err?.name === "AbortError") return;
      formErr.textContent = errorText(err);
    } finally {
      runBtn.disabled = pushBtn.disabled = false;
    }
  };
  const runBtn = h("button", { type: "submit", class: "primary", id: "run" }, "Run");
  const pushBtn = h("button", { type: "button", id: "push", onclick: () => void submit("push") }, "Push");
  const form = h(
    "form",
    { id: "try", novalidate: true, "aria-labelledby": "try-title", onsubmit: (ev) => {
      ev.preventDefault();
      void submit("run");
    } },
    h("h2", { id: "try-title" }, "Try it"),
    h(
      "p",
      { class: "muted", id: "signature-note" },
      fn.signature.known
        ? `Form from the handler's signature (${fn.signature.source === "type-hints" ? "Python type hints" : fn.signature.source === "exported" ? "its input schema" : "parameter names and defaults"}).`
        : fn.signature.rejected
          ? `The workers' signature was rejected (${fn.signature.rejected}): enter the input as JSON.`
          : "No signature known yet (no worker has finished setup()): enter the input as JSON.",
      " ",
      toggle,
    ),
    fieldsBox,
    jsonField,
    formErr,
    h("div", { class: "actions" }, runBtn, pushBtn),
  );

  const showTask = async (id) => {
    try {
      const t = await api(`/v1/tasks/${encodeURIComponent(id)}`);
      if (t.status === "succeeded" || t.status === "failed" || t.status === "cancelled") renderOutput(output, t);
      else output.replaceChildren(h("p", { role: "status" }, `Task ${t.id} is ${t.status}${t.progress ? ` (${Math.round(t.progress.value * 100)}%)` : ""}.`));
      output.scrollIntoView({ block: "nearest" });
    } catch (err) {
      output.replaceChildren(h("p", { class: "error", role: "alert" }, errorText(err)));
    }
  };
  const refreshTasks = async () => {
    const [tasks, latest] = await Promise.all([api(`${base}/tasks?limit=15`), api(base)]);
    if (gen !== viewGeneration) return;
    tasksBox.replaceChildren(tasksTable(tasks.tasks, (id) => void showTask(id)));
    document.getElementById("workers").textContent = `${latest.warmWorkers} warm, ${latest.busyWorkers} busy · queue ${latest.queueDepth}`;
  };

  main.replaceChildren(
    h("p", {}, h("a", { href: "#/functions" }, "← Functions")),
    h("h1", {}, fn.title),
    h("p", { class: "muted" }, `${fn.namespace}/${fn.name}`),
    fn.description ? h("p", {}, fn.description) : "",
    facts,
    h("div", { class: "grid" }, readme, h("section", { class: "panel" }, form, progressBox, h("h2", {}, "Output"), output)),
    h("section", { "aria-labelledby": "recent-title" }, h("h2", { id: "recent-title" }, "Recent tasks"), tasksBox),
  );
  main.querySelector("h1").setAttribute("tabindex", "-1");
  sync();
  await refreshTasks();
  every(2500, gen, refreshTasks);
}

function defaultsOf(fields) {
  const out = {};
  for (const f of fields) if (f.hasDefault) out[f.name] = f.default;
  return out;
}

// ---- Workflows and Jobs ---------------------------------------------------------------------

async function workflowsView() {
  const gen = setView("Workflows", h("h1", {}, "Workflows"), h("p", { class: "muted" }, "Loading…"));
  const data = await api("/v1/workflows");
  if (gen !== viewGeneration) return;
  const cards = data.workflows.map(workflowCard);
  main.replaceChildren(h("h1", {}, "Workflows"), ...(cards.length === 0 ? [h("p", { class: "muted" }, "No Workflows yet.")] : cards.map((c) => c.el)));
  main.querySelector("h1").setAttribute("tabindex", "-1");
  const refresh = () => Promise.all(cards.map((c) => c.refresh()));
  await refresh();
  every(3000, gen, refresh);
}

const RUN_STATES = ["queued", "running", "succeeded", "failed", "cancelled"];

/** One Workflow: its graph coloured by the selected run's steps, the runs, and the steps of the selected run. */
function workflowCard(wf) {
  const id = `wf-${wf.namespace}-${wf.name}`;
  const graph = h("div", { class: "graph-box" });
  const runsBox = h("div", { class: "runs", "aria-live": "polite" });
  const stepsBox = h("div", { class: "run-steps" });
  let runs = [];
  let selected;
  const valid = wf.conditions.find((c) => c.type === "Valid");
  const draw = () => {
    const run = runs.find((r) => r.id === selected) ?? runs[0];
    const states = {};
    if (run) for (const [step, s] of Object.entries(run.steps)) if (s.state) states[step] = s.state;
    graph.innerHTML = renderGraph(wf, states); // every text escaped by renderGraph
    runsBox.replaceChildren(
      runs.length === 0
        ? h("p", { class: "muted" }, "No runs yet: the graph shows the Workflow as declared.")
        : h(
            "table",
            { class: "runs-table" },
            h("caption", {}, runs.length === 1 ? "The latest run" : `The latest ${runs.length} runs, newest first`),
            h("thead", {}, h("tr", {}, ...["Run", "Status", "Started", "Duration", "Steps", ""].map((c) => h("th", { scope: "col" }, c)))),
            h(
              "tbody",
              {},
              runs.map((r) => {
                const steps = Object.values(r.steps);
                const done = steps.filter((s) => s.state === "succeeded").length;
                const shown = r.id === (run && run.id);
                return h(
                  "tr",
                  { class: shown ? "selected" : "", "data-run": r.id },
                  h("td", { class: "mono", title: r.id }, r.id.slice(0, 18)),
                  h("td", { class: `status-${r.status}`, title: r.error ? `${r.error.type}: ${r.error.message}` : "" }, r.status, r.error ? ` (${r.error.type})` : ""),
                  h("td", {}, when(r.createdAt)),
                  h("td", { class: "num" }, duration(r.createdAt, r.finishedAt)),
                  h("td", {}, `${done} of ${(wf.steps ?? []).length} done`),
                  h(
                    "td",
                    {},
                    h(
                      "button",
                      {
                        type: "button",
                        class: "link",
                        "aria-pressed": shown ? "true" : "false",
                        onclick: () => {
                          selected = r.id;
                          draw();
                        },
                      },
                      shown ? "Shown" : "Show",
                    ),
                  ),
                );
              }),
            ),
          ),
    );
    stepsBox.replaceChildren(
      ...[
        run
          ? h(
              "table",
              { class: "steps-table" },
              h("caption", {}, `Steps of run ${run.id.slice(0, 18)} (${run.status})`),
              h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Step"), h("th", { scope: "col" }, "Function"), h("th", { scope: "col" }, "State"), ...RUN_STATES.map((c) => h("th", { scope: "col", class: "num" }, c)))),
              h(
                "tbody",
                {},
                (wf.steps ?? []).map((s) => {
                  const st = run.steps[s.name];
                  return h(
                    "tr",
                    { "data-step": s.name },
                    h("td", {}, s.name),
                    h("td", {}, s.functionRef?.name ?? ""),
                    h("td", { class: st?.state ? `status-${st.state}` : "muted" }, st?.state ?? "not reached"),
                    ...RUN_STATES.map((c) => h("td", { class: "num" }, String(st?.counts?.[c] ?? ""))),
                  );
                }),
              ),
            )
          : null,
        run?.error ? h("p", { class: "error", role: "status" }, `${run.error.type}: ${run.error.message}`) : null,
      ].filter((c) => c !== null),
    );
  };
  const el = h(
    "section",
    { class: "card", "aria-labelledby": id, "data-workflow": `${wf.namespace}/${wf.name}` },
    h("h2", { id }, wf.name, h("span", { class: "muted" }, ` · ${wf.namespace}`)),
    valid ? h("p", {}, statusBadge({ ...valid, reason: valid.status === "True" ? "" : valid.reason })) : null,
    graph,
    h("h3", {}, "Runs"),
    runsBox,
    stepsBox,
    h(
      "details",
      {},
      h("summary", {}, "Steps as text"),
      h(
        "ul",
        {},
        (wf.steps ?? []).map((s) =>
          h("li", {}, `${s.name} → ${s.functionRef?.name ?? "?"}`, s.map ? " (map)" : "", s.accumulate ? " (accumulate)" : "", s.next ? `; next: ${s.next.join(", ")}` : "", s.routes ? `; routes: ${s.routes.join(", ")}` : ""),
        ),
      ),
    ),
  );
  draw();
  const refresh = async () => {
    try {
      runs = (await api(`/v1/namespaces/${encodeURIComponent(wf.namespace)}/workflows/${encodeURIComponent(wf.name)}/runs?limit=10`)).runs;
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) throw err;
      runsBox.replaceChildren(h("p", { class: "error", role: "alert" }, `Cannot load the runs: ${errorText(err)}`));
      return;
    }
    draw();
  };
  return { el, refresh };
}

async function jobsView() {
  const gen = setView("Jobs", h("h1", {}, "Jobs"), h("p", { class: "muted" }, "Loading…"));
  const draw = (jobs) =>
    jobs.length === 0
      ? h("p", { class: "muted" }, "No Jobs yet.")
      : h(
          "table",
          { id: "jobs" },
          h("caption", {}, `${jobs.length} Jobs`),
          h("thead", {}, h("tr", {}, ...["Job", "Runs", "Invocation", "State", "Task", "Attempts", "Created"].map((c) => h("th", { scope: "col" }, c)))),
          h(
            "tbody",
            {},
            jobs.map((j) => {
              const failed = j.conditions.find((c) => c.type === "Failed" && c.status === "True");
              return h(
                "tr",
                {},
                h("td", {}, j.name, h("div", { class: "muted" }, j.namespace)),
                h("td", {}, j.function ? h("a", { href: `#/functions/${encodeURIComponent(j.namespace)}/${encodeURIComponent(j.function)}` }, j.function) : j.workflow ? `workflow ${j.workflow}` : ""),
                h("td", {}, j.invocation ?? ""),
                h("td", { class: `status-${j.state === "Complete" ? "succeeded" : j.state === "Failed" ? "failed" : "running"}`, title: failed?.message ?? "" }, j.state, failed?.reason ? ` (${failed.reason})` : ""),
                h("td", {}, j.taskId ?? ""),
                h("td", { class: "num" }, j.attempts === undefined ? "" : String(j.attempts)),
                h("td", {}, when(j.createdAt)),
              );
            }),
          ),
        );
  const box = h("div");
  box.append(draw((await api("/v1/jobs")).jobs));
  if (gen !== viewGeneration) return;
  main.replaceChildren(h("h1", {}, "Jobs"), box);
  main.querySelector("h1").setAttribute("tabindex", "-1");
  every(3000, gen, async () => box.replaceChildren(draw((await api("/v1/jobs")).jobs)));
}

function notFound(message) {
  setView("Not found", h("h1", {}, "Not found"), h("p", {}, message ?? "There is no such page."), h("p", {}, h("a", { href: "#/functions" }, "Back to the Functions")));
}

// ---- routing ---------------------------------------------------------------------------------

async function route() {
  const seq = ++routeSeq;
  const hash = location.hash.replace(/^#/, "") || "/functions";
  const parts = hash.split("/").filter((p) => p !== "").map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  for (const a of document.querySelectorAll("nav a")) {
    if (a.dataset.section === parts[0]) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  try {
    if (parts[0] === "functions" && parts.length === 1) await functionsView();
    else if (parts[0] === "functions" && parts.length === 3) await functionView(parts[1], parts[2]);
    else if (parts[0] === "workflows" && parts.length === 1) await workflowsView();
    else if (parts[0] === "jobs" && parts.length === 1) await jobsView();
    else notFound();
  } catch (err) {
    if (seq !== routeSeq) return; // a newer route() (a sign-in, a click) owns the page now
    if (err instanceof ApiError && err.status === 401) {
      setView("Sign in", h("h1", {}, "Sign in"), h("p", {}, "Enter a caller token to see this page."));
      return;
    }
    console.error(err);
    setView("Error", h("h1", {}, "Something went wrong"), h("p", { class: "error", role: "alert" }, errorText(err)), h("p", {}, h("button", { type: "button", onclick: () => void route() }, "Try again")));
  }
}

// The skip link must not change the hash: the hash is the route.
document.querySelector("a.skip").addEventListener("click", (ev) => {
  ev.preventDefault();
  main.focus();
});

window.addEventListener("hashchange", () => void route());
void route();
