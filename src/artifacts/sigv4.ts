// AWS Signature Version 4 for one request (header-based auth), with node:crypto only: what an
// S3-compatible store (AWS S3, MinIO, Ceph RGW, R2, …) asks of a GET. Pure: the clock is an
// argument. Checked against AWS's published examples (test/unit/sigv4.test.ts).
// The canonical URI is the request path as sent (S3 encodes each key segment once and does not
// normalise it); query parameters are sorted by name then value, RFC 3986-encoded.
import { createHash, createHmac } from "node:crypto";

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  /** Temporary credentials (STS): sent and signed as x-amz-security-token. */
  sessionToken?: string | undefined;
}

export interface SignInput {
  method: string;
  url: URL;
  /** Headers to send and sign (host is added from the URL). */
  headers: Record<string, string>;
  /** Hex sha256 of the body, or "UNSIGNED-PAYLOAD". */
  payloadHash: string;
  region: string;
  service: string;
  credentials: Credentials;
  now: Date;
}

export const EMPTY_SHA256 = createHash("sha256").update("").digest("hex");

const hmac = (key: Buffer | string, data: string): Buffer => createHmac("sha256", key).update(data, "utf8").digest();
const sha256Hex = (data: string): string => createHash("sha256").update(data, "utf8").digest("hex");

/** RFC 3986 encoding as SigV4 wants it: everything but A-Z a-z 0-9 - _ . ~ is %XX. */
export function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** 20130524T000000Z */
export function amzDate(d: Date): string {
  return d.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

function canonicalQuery(url: URL): string {
  const pairs = [...url.searchParams.entries()].map(([k, v]) => [uriEncode(k), uriEncode(v)] as const);
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join("&");
}

/** The canonical request (step 1 of SigV4), and the signed header list. */
export function canonicalRequest(input: Omit<SignInput, "credentials" | "region" | "service" | "now">): { request: string; signedHeaders: string } {
  const headers = new Map<string, string>();
  headers.set("host", input.url.host);
  for (const [k, v] of Object.entries(input.headers)) headers.set(k.toLowerCase(), v.trim().replace(/\s+/g, " "));
  const names = [...headers.keys()].sort();
  const signedHeaders = names.join(";");
  const request = [input.method.toUpperCase(), input.url.pathname === "" ? "/" : input.url.pathname, canonicalQuery(input.url), names.map((n) => `${n}:${headers.get(n) ?? ""}\n`).join(""), signedHeaders, input.payloadHash].join("\n");
  return { request, signedHeaders };
}

/**
 * The headers to send: the input's, x-amz-date (and x-amz-security-token), and Authorization.
 * A caller that wants x-amz-content-sha256 (S3 does) puts it in `headers`.
 */
export function signV4(input: SignInput): Record<string, string> {
  const date = amzDate(input.now);
  const day = date.slice(0, 8);
  const headers: Record<string, string> = { ...input.headers, "x-amz-date": date };
  if (input.credentials.sessionToken !== undefined && input.credentials.sessionToken !== "") headers["x-amz-security-token"] = input.credentials.sessionToken;
  const { request, signedHeaders } = canonicalRequest({ method: input.method, url: input.url, headers, payloadHash: input.payloadHash });
  const scope = `${day}/${input.region}/${input.service}/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", date, scope, sha256Hex(request)].join("\n");
  const key = hmac(hmac(hmac(hmac(`AWS4${input.credentials.secretAccessKey}`, day), input.region), input.service), "aws4_request");
  const signature = createHmac("sha256", key).update(toSign, "utf8").digest("hex");
  headers["authorization"] = `AWS4-HMAC-SHA256 Credential=${input.credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return headers;
}
