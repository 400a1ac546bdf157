// `hearth artifacts fetch`: the download init container of worker pods with URL artifacts (and
// dev mode's fetch step). Reads HEARTH_ARTIFACT_SPECS ([{name, href, sha256?, headersDir?, s3?}]) and
// HEARTH_ARTIFACT_CACHE (the node cache), fetches each artifact once per node (resuming a partial
// download, verifying sha256), and logs progress. Exit 0 when all are in place; 1 with the
// reason (DownloadFailed, ChecksumMismatch, InvalidArtifact) in the termination message otherwise.
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { ArtifactError, fetchArtifact } from "../../artifacts/fetch.ts";
import { reporterFromEnv } from "../../artifacts/report.ts";
import { isS3Href, readS3Credentials, S3CredentialsError } from "../../artifacts/s3.ts";
import type { Credentials } from "../../artifacts/sigv4.ts";

export const summary = "fetch a Function's URL artifacts into the node cache (init container)";

const specs = z.array(
  z.object({
    name: z.string().min(1),
    href: z.string().min(1),
    sha256: z.string().optional(),
    headersDir: z.string().optional(),
    s3: z.object({ endpoint: z.string().optional(), region: z.string().optional() }).optional(),
  }),
);

const log = (line: string): void => {
  process.stderr.write(`hearth: ${line}\n`);
};

/** A mounted Secret's keys as request headers (file name → header name). */
async function headersFrom(dir: string | undefined): Promise<Record<string, string>> {
  if (dir === undefined) return {};
  const out: Record<string, string> = {};
  for (const name of await readdir(dir)) {
    if (name.startsWith(".")) continue;
    out[name.toLowerCase()] = (await readFile(join(dir, name), "utf8")).trim();
  }
  return out;
}

async function s3Credentials(name: string, dir: string | undefined): Promise<Credentials | undefined> {
  try {
    return await readS3Credentials(dir);
  } catch (err) {
    if (err instanceof S3CredentialsError) throw new ArtifactError("InvalidArtifact", `artifact ${name}: ${err.message}`);
    throw err;
  }
}

export async function run(args: string[]): Promise<number> {
  if (args[0] !== "fetch") {
    console.error("usage: hearth artifacts fetch   (reads HEARTH_ARTIFACT_SPECS and HEARTH_ARTIFACT_CACHE)");
    return 2;
  }
  const cacheDir = process.env["HEARTH_ARTIFACT_CACHE"];
  const parsed = specs.safeParse(JSON.parse(process.env["HEARTH_ARTIFACT_SPECS"] ?? "[]"));
  if (cacheDir === undefined || !parsed.success) {
    log("InvalidArtifact: HEARTH_ARTIFACT_CACHE and HEARTH_ARTIFACT_SPECS (a JSON list of {name, href, sha256?}) must be set");
    return 2;
  }
  // Warm pods: the download's progress and failure reach the Function's status through the gateway.
  const reporter = reporterFromEnv(process.env);
  try {
    for (const s of parsed.data) {
      try {
        const onProgress = reporter === undefined ? undefined : (got: number, total: number | undefined) => reporter.progress(s.name, got, total);
        // s3://: the Secret holds AWS keys to sign with; http(s): its keys are request headers.
        const access = isS3Href(s.href) ? { s3: { ...s.s3, credentials: await s3Credentials(s.name, s.headersDir) } } : { headers: await headersFrom(s.headersDir) };
        await fetchArtifact({ name: s.name, href: s.href, sha256: s.sha256, cacheDir, ...access, log, ...(onProgress !== undefined ? { onProgress } : {}) });
      } catch (err) {
        const reason = err instanceof ArtifactError ? err.reason : "DownloadFailed";
        const message = err instanceof Error ? err.message : String(err);
        log(`${reason}: ${message}`);
        await reporter?.failed(reason, message);
        await writeFile(process.env["HEARTH_TERMINATION_LOG"] ?? "/dev/termination-log", `${reason}: ${message}`).catch(() => undefined);
        return 1;
      }
    }
    return 0;
  } finally {
    reporter?.close();
  }
}
