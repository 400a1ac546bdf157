// URL artifacts against a real local HTTP server serving a "model" file: first fetch downloads
// and verifies sha256, the second finds the node cache, a checksum mismatch fails with its
// reason, and a download cut mid-way resumes with a Range request instead of starting over.
import { it } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import { readFileSync } from "node:fs";
import { ArtifactError, fetchArtifact } from "../../src/artifacts/fetch.ts";
import { tempDir } from "./harness.ts";

interface ModelServer {
  url: string;
  requests: { range: string | undefined }[];
  /** Cut the connection after this many bytes of the next response. */
  cutNextAt: number | undefined;
  close(): Promise<void>;
}

async function serve(body: Buffer): Promise<ModelServer> {
  const state: ModelServer = { url: "", requests: [], cutNextAt: undefined, close: async () => undefined };
  const server: Server = createServer((req, res) => {
    const range = req.headers.range;
    state.requests.push({ range });
    let start = 0;
    const m = range === undefined ? null : /^bytes=(\d+)-$/.exec(range);
    if (m?.[1] !== undefined) start = Number(m[1]);
    const part = body.subarray(start);
    const headers: Record<string, string> = { "content-length": String(part.length), "content-type": "application/octet-stream" };
    if (start > 0) headers["content-range"] = `bytes ${start}-${body.length - 1}/${body.length}`;
    res.writeHead(start > 0 ? 206 : 200, headers);
    const cut = state.cutNextAt;
    if (cut !== undefined) {
      state.cutNextAt = undefined;
      res.write(part.subarray(0, cut), () => res.destroy());
      return;
    }
    res.end(part);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const addr = server.address();
  state.url = `http://127.0.0.1:${typeof addr === "object" && addr !== null ? addr.port : 0}`;
  state.close = () => new Promise<void>((r) => server.close(() => r()));
  return state;
}

const model = randomBytes(3 * 1024 * 1024 + 17);
const digest = createHash("sha256").update(model).digest("hex");

it("downloads once per node cache, verifies sha256, and resumes an interrupted download", async (t) => {
  const srv = await serve(model);
  t.after(() => srv.close());
  const cache = tempDir("artifacts");
  t.after(() => cache.remove());
  const lines: string[] = [];
  const req = { name: "whisper", href: `${srv.url}/models/whisper.bin`, sha256: digest, cacheDir: cache.path, log: (l: string) => lines.push(l) };

  // Cut after 1 MiB: the partial stays, the error says it is resumable.
  srv.cutNextAt = 1024 * 1024;
  await assert.rejects(fetchArtifact(req), (err: unknown) => err instanceof ArtifactError && err.reason === "DownloadFailed" && /resumable/.test(err.message));
  const resumed = await fetchArtifact(req);
  // The partial holds what arrived before the cut (at most 1 MiB): the second request asks for the rest.
  const from = Number(/^bytes=(\d+)-$/.exec(srv.requests.at(-1)?.range ?? "")?.[1] ?? -1);
  assert.ok(from > 0 && from <= 1024 * 1024, `the second request resumes (range ${srv.requests.at(-1)?.range ?? "none"})`);
  assert.equal(resumed.cached, false);
  assert.equal(resumed.downloaded, model.length - from);
  assert.ok(readFileSync(resumed.path).equals(model));
  assert.ok(lines.some((l) => /resuming at \d+\.\d MB of 3\.1 MB/.test(l)), lines.join("\n"));
  assert.ok(lines.some((l) => /sha256 verified/.test(l)));

  // Another worker on the node: nothing downloaded.
  const before = srv.requests.length;
  const again = await fetchArtifact(req);
  assert.equal(again.cached, true);
  assert.equal(again.path, resumed.path);
  assert.equal(srv.requests.length, before);
});

it("a checksum mismatch fails with ChecksumMismatch and leaves nothing to resume", async (t) => {
  const srv = await serve(model);
  t.after(() => srv.close());
  const cache = tempDir("artifacts");
  t.after(() => cache.remove());
  const wrong = "0".repeat(64);
  const req = { name: "whisper", href: `${srv.url}/w.bin`, sha256: wrong, cacheDir: cache.path };
  await assert.rejects(fetchArtifact(req), (err: unknown) => err instanceof ArtifactError && err.reason === "ChecksumMismatch" && err.message.includes(digest));
  await assert.rejects(fetchArtifact(req), (err: unknown) => err instanceof ArtifactError && err.reason === "ChecksumMismatch");
  assert.equal(srv.requests.at(-1)?.range, undefined, "a corrupt partial is not resumed");
});

it("concurrent fetchers of one artifact download it once", async (t) => {
  const srv = await serve(model);
  t.after(() => srv.close());
  const cache = tempDir("artifacts");
  t.after(() => cache.remove());
  const req = { name: "m", href: `${srv.url}/m.bin`, sha256: digest, cacheDir: cache.path };
  const results = await Promise.all([fetchArtifact(req), fetchArtifact(req), fetchArtifact(req)]);
  assert.equal(srv.requests.length, 1);
  assert.equal(results.filter((r) => !r.cached).length, 1);
});

it("HTTP errors are DownloadFailed with the status", async (t) => {
  const cache = tempDir("artifacts");
  t.after(() => cache.remove());
  const server = createServer((_req, res) => res.writeHead(404).end("no"));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const addr = server.address();
  const port = typeof addr === "object" && addr !== null ? addr.port : 0;
  await assert.rejects(fetchArtifact({ name: "x", href: `http://127.0.0.1:${port}/x`, cacheDir: cache.path }), (err: unknown) => err instanceof ArtifactError && err.reason === "DownloadFailed" && /answered 404/.test(err.message));
});

it("`hearth artifacts fetch` (the init container) fills the cache and reports a mismatch with its reason", { timeout: 120_000 }, async (t) => {
  const srv = await serve(model);
  t.after(() => srv.close());
  const cache = tempDir("artifacts-cli");
  t.after(() => cache.remove());
  const { spawn } = await import("node:child_process");
  const { MAIN } = await import("./harness.ts");
  const runCli = (specs: unknown): Promise<{ code: number | null; stderr: string; log: string }> =>
    new Promise((resolve) => {
      const log = `${cache.path}/termination-log`;
      const p = spawn(process.execPath, [MAIN, "artifacts", "fetch"], {
        env: { PATH: process.env["PATH"] ?? "", HEARTH_ARTIFACT_CACHE: `${cache.path}/cache`, HEARTH_ARTIFACT_SPECS: JSON.stringify(specs), HEARTH_TERMINATION_LOG: log },
        stdio: ["ignore", "ignore", "pipe"],
      });
      let stderr = "";
      p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      p.on("exit", (code) => {
        let text = "";
        try {
          text = readFileSync(log, "utf8");
        } catch {
          text = "";
        }
        resolve({ code, stderr, log: text });
      });
    });
  const ok = await runCli([{ name: "whisper", href: `${srv.url}/whisper.bin`, sha256: digest }]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stderr, /artifact whisper: downloaded 3\.1 MB, sha256 verified/);
  const again = await runCli([{ name: "whisper", href: `${srv.url}/whisper.bin`, sha256: digest }]);
  assert.match(again.stderr, /artifact whisper: cached/);
  const bad = await runCli([{ name: "other", href: `${srv.url}/other.bin`, sha256: "1".repeat(64) }]);
  assert.equal(bad.code, 1);
  assert.match(bad.log, /^ChecksumMismatch: artifact other/);
});
