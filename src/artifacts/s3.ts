// s3://bucket/key artifacts: the GET to send to AWS S3 or an S3-compatible store (MinIO, Ceph
// RGW, R2, …), signed with SigV4 when the artifact's Secret gives credentials. Pure but for
// readS3Credentials (files of a mounted Secret).
// - With `endpoint` (url.s3.endpoint): path-style, <endpoint>/<bucket>/<key> — what
//   S3-compatible stores serve everywhere;
// - without: AWS, virtual-hosted, https://<bucket>.s3.<region>.amazonaws.com/<key>.
// The Secret's keys: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, optional AWS_SESSION_TOKEN.
// Without a Secret the GET goes unsigned (a public bucket).
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { EMPTY_SHA256, signV4, uriEncode, type Credentials } from "./sigv4.ts";

export interface S3Location {
  bucket: string;
  key: string;
}

export interface S3Options {
  /** http(s):// origin of an S3-compatible store; absent = AWS. */
  endpoint?: string | undefined;
  /** Default us-east-1. */
  region?: string | undefined;
}

export const DEFAULT_S3_REGION = "us-east-1";
export const S3_SECRET_KEYS = { accessKeyId: "AWS_ACCESS_KEY_ID", secretAccessKey: "AWS_SECRET_ACCESS_KEY", sessionToken: "AWS_SESSION_TOKEN" } as const;

export const isS3Href = (href: string): boolean => href.startsWith("s3://");

/** s3://bucket/some/key.bin → {bucket, key}; undefined when it is not one. */
export function parseS3Href(href: string): S3Location | undefined {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.+)$/.exec(href);
  if (m?.[1] === undefined || m[2] === undefined) return undefined;
  return { bucket: m[1], key: m[2] };
}

/** The object's HTTP(S) URL; each key segment encoded once (as S3 signs it). */
export function s3ObjectURL(loc: S3Location, opts: S3Options): URL {
  const key = loc.key.split("/").map(uriEncode).join("/");
  if (opts.endpoint !== undefined && opts.endpoint !== "") return new URL(`${opts.endpoint.replace(/\/+$/, "")}/${loc.bucket}/${key}`);
  return new URL(`https://${loc.bucket}.s3.${opts.region ?? DEFAULT_S3_REGION}.amazonaws.com/${key}`);
}

/** URL and headers of the GET (Range when resuming), signed when credentials are given. */
export function s3Get(loc: S3Location, opts: S3Options, credentials: Credentials | undefined, extra: Record<string, string>, now: Date): { url: URL; headers: Record<string, string> } {
  const url = s3ObjectURL(loc, opts);
  const headers: Record<string, string> = { ...extra, "x-amz-content-sha256": EMPTY_SHA256 };
  if (credentials === undefined) return { url, headers };
  return { url, headers: signV4({ method: "GET", url, headers, payloadHash: EMPTY_SHA256, region: opts.region ?? DEFAULT_S3_REGION, service: "s3", credentials, now }) };
}

/** The S3 error code of an error answer (<Code>AccessDenied</Code>), if any. */
export function s3ErrorCode(body: string): string | undefined {
  return /<Code>([^<]{1,100})<\/Code>/.exec(body)?.[1];
}

export class S3CredentialsError extends Error {}

/** Credentials from a mounted Secret's files; undefined without a directory. Throws S3CredentialsError when a key is missing. */
export async function readS3Credentials(dir: string | undefined): Promise<Credentials | undefined> {
  if (dir === undefined) return undefined;
  const read = (name: string): Promise<string | undefined> => readFile(join(dir, name), "utf8").then((s) => s.trim(), () => undefined);
  const accessKeyId = await read(S3_SECRET_KEYS.accessKeyId);
  const secretAccessKey = await read(S3_SECRET_KEYS.secretAccessKey);
  if (accessKeyId === undefined || accessKeyId === "" || secretAccessKey === undefined || secretAccessKey === "") {
    throw new S3CredentialsError(`the secretRef Secret needs the keys ${S3_SECRET_KEYS.accessKeyId} and ${S3_SECRET_KEYS.secretAccessKey} for an s3:// artifact`);
  }
  const sessionToken = await read(S3_SECRET_KEYS.sessionToken);
  return sessionToken === undefined || sessionToken === "" ? { accessKeyId, secretAccessKey } : { accessKeyId, secretAccessKey, sessionToken };
}
