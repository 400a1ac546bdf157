// s3:// artifacts against a real S3-compatible server: moto's server (PyPI, pinned in
// hack/build-tools.sh) on loopback, with IAM authentication on (INITIAL_NO_AUTH_ACTION_COUNT):
// the test creates a user, its access key and a bucket, then puts a "model" signed with that key.
// `hearth artifacts fetch` — the process the init container and dev mode run — downloads it with
// SigV4, verifies sha256, resumes a partial download with a signed Range request, and a wrong
// secret ends with DownloadFailed naming the 403 and S3's error code.
import { it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { cacheKey } from "../../src/artifacts/fetch.ts";
import { signV4, type Credentials } from "../../src/artifacts/sigv4.ts";
import { freePort } from "../../src/dev/dev.ts";
import { chartToolPath } from "../support/chart-tools.ts";
import { tempDir } from "./harness.ts";

const sha256 = (b: Buffer | string): string => createHash("sha256").update(b).digest("hex");

async function until(fn: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const listening = (port: number): Promise<boolean> =>
  new Promise((r) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      r(true);
    });
    s.once("error", () => r(false));
  });

/** One signed request to the moto server (IAM's query API or S3). */
async function aws(base: string, method: string, path: string, service: "iam" | "s3", creds: Credentials, body = ""): Promise<{ status: number; text: string }> {
  const url = new URL(path, base);
  const headers: Record<string, string> = { "x-amz-content-sha256": sha256(body) };
  if (service === "iam") headers["content-type"] = "application/x-www-form-urlencoded";
  const signed = signV4({ method, url, headers, payloadHash: sha256(body), region: "us-east-1", service, credentials: creds, now: new Date() });
  const res = await fetch(url, { method, headers: signed, ...(body !== "" ? { body } : {}) });
  return { status: res.status, text: await res.text() };
}

interface FetchRun {
  code: number | null;
  stderr: string;
  termination: string;
}

function fetchCli(specs: unknown[], cacheDir: string, dir: string): Promise<FetchRun> {
  const termination = join(dir, `termination-${Math.random().toString(36).slice(2)}`);
  const child = spawn(process.execPath, ["src/cli/main.ts", "artifacts", "fetch"], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { PATH: process.env["PATH"] ?? "", HEARTH_ARTIFACT_SPECS: JSON.stringify(specs), HEARTH_ARTIFACT_CACHE: cacheDir, HEARTH_TERMINATION_LOG: termination },
  });
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  return new Promise((r) =>
    child.once("exit", (code) => {
      let term = "";
      try {
        term = readFileSync(termination, "utf8");
      } catch {
        // none written: success
      }
      r({ code, stderr, termination: term });
    }),
  );
}

it("fetches an s3:// artifact from an S3-compatible server with SigV4: verified, resumed, and a wrong secret is a clear 403", { timeout: 600_000 }, async (t) => {
  const python = join(chartToolPath("moto"), "bin", "python");
  const tmp = tempDir("artifacts-s3");
  t.after(() => tmp.remove());
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  // Authentication starts after the first 4 requests: three IAM calls and the bucket's creation.
  const moto = spawn(python, ["-m", "moto.server", "-H", "127.0.0.1", "-p", String(port)], {
    stdio: ["ignore", "ignore", "pipe"],
    detached: true,
    env: { PATH: process.env["PATH"] ?? "", INITIAL_NO_AUTH_ACTION_COUNT: "4", AWS_DEFAULT_REGION: "us-east-1" },
  });
  let motoLog = "";
  moto.stderr.on("data", (c: Buffer) => (motoLog = (motoLog + c.toString()).slice(-4000)));
  const motoExited = new Promise<void>((r) => moto.once("exit", () => r()));
  t.after(async () => {
    if (moto.exitCode === null && moto.pid !== undefined) {
      process.kill(-moto.pid, "SIGTERM");
      await motoExited;
    }
  });
  await until(() => listening(port), "moto server to listen", 120_000).catch((err: unknown) => {
    throw new Error(`${String(err)}\n--- moto ---\n${motoLog}`);
  });

  const bootstrap: Credentials = { accessKeyId: "AKIABOOTSTRAP0000000", secretAccessKey: "bootstrap" };
  const iam = (params: Record<string, string>): Promise<{ status: number; text: string }> => aws(base, "POST", "/", "iam", bootstrap, new URLSearchParams({ ...params, Version: "2010-05-08" }).toString());
  assert.equal((await iam({ Action: "CreateUser", UserName: "hearth" })).status, 200);
  const policy = JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "s3:*", Resource: "*" }] });
  assert.equal((await iam({ Action: "PutUserPolicy", UserName: "hearth", PolicyName: "s3", PolicyDocument: policy })).status, 200);
  const key = await iam({ Action: "CreateAccessKey", UserName: "hearth" });
  const accessKeyId = /<AccessKeyId>([^<]+)<\/AccessKeyId>/.exec(key.text)?.[1];
  const secretAccessKey = /<SecretAccessKey>([^<]+)<\/SecretAccessKey>/.exec(key.text)?.[1];
  assert.ok(accessKeyId !== undefined && secretAccessKey !== undefined, key.text);
  const creds: Credentials = { accessKeyId, secretAccessKey };
  assert.equal((await aws(base, "PUT", "/models", "s3", creds)).status, 200);

  // Authentication is on now: the object goes in signed with the user's key (and a wrong key is refused).
  const model = randomBytes(3 * 1024 * 1024 + 5);
  const digest = sha256(model);
  const put = async (c: Credentials): Promise<number> => {
    const url = new URL("/models/whisper/model%2Bv1.bin", base);
    const headers = signV4({ method: "PUT", url, headers: { "x-amz-content-sha256": digest }, payloadHash: digest, region: "us-east-1", service: "s3", credentials: c, now: new Date() });
    const res = await fetch(url, { method: "PUT", headers, body: model });
    await res.arrayBuffer();
    return res.status;
  };
  assert.equal(await put({ accessKeyId, secretAccessKey: "wrong" }), 403, "moto checks signatures");
  assert.equal(await put(creds), 200);

  const secret = (name: string, files: Record<string, string>): string => {
    const dir = join(tmp.path, "secrets", name);
    mkdirSync(dir, { recursive: true });
    for (const [k, v] of Object.entries(files)) writeFileSync(join(dir, k), `${v}\n`);
    return dir;
  };
  const good = secret("good", { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey });
  const href = "s3://models/whisper/model+v1.bin";
  const spec = { name: "whisper", href, sha256: digest, headersDir: good, s3: { endpoint: base, region: "us-east-1" } };

  // First fetch: downloads and verifies.
  const cache = join(tmp.path, "cache");
  const first = await fetchCli([spec], cache, tmp.path);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stderr, /artifact whisper: downloaded 3\.1 MB, sha256 verified/);
  const path = join(cache, cacheKey(href, digest), "model_v1.bin");
  assert.equal(sha256(readFileSync(path)), digest);
  // Second: the node cache, nothing downloaded.
  const second = await fetchCli([spec], cache, tmp.path);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stderr, /cached \(3\.1 MB\), nothing to download/);

  // Resume: a partial download left by an interrupted fetcher is completed with a signed Range GET.
  const cache2 = join(tmp.path, "cache2");
  mkdirSync(join(cache2, cacheKey(href, digest)), { recursive: true });
  writeFileSync(join(cache2, cacheKey(href, digest), "model_v1.bin.partial"), model.subarray(0, 1_000_000));
  const resumed = await fetchCli([spec], cache2, tmp.path);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, /resuming at 1\.0 MB of 3\.1 MB/);
  assert.equal(sha256(readFileSync(join(cache2, cacheKey(href, digest), "model_v1.bin"))), digest);

  // A wrong secret: DownloadFailed naming the 403 and S3's code; nothing lands in the cache.
  const bad = secret("bad", { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: "not-the-secret" });
  const denied = await fetchCli([{ ...spec, headersDir: bad }], join(tmp.path, "cache3"), tmp.path);
  assert.equal(denied.code, 1, denied.stderr);
  assert.match(denied.termination, /^DownloadFailed: artifact whisper: GET s3:\/\/models\/whisper\/model\+v1\.bin answered 403 SignatureDoesNotMatch \(check the secretRef's credentials/);
  // A Secret without the keys: InvalidArtifact, saying which keys.
  const empty = secret("empty", { token: "x" });
  const invalid = await fetchCli([{ ...spec, headersDir: empty }], join(tmp.path, "cache4"), tmp.path);
  assert.equal(invalid.code, 1, invalid.stderr);
  assert.match(invalid.termination, /^InvalidArtifact: artifact whisper: the secretRef Secret needs the keys AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
});
