// SigV4 against AWS's published examples (Amazon S3 API reference, "Signature calculations for
// the Authorization header", and the generic Signature Version 4 test suite's get-vanilla), and
// the s3:// request and validation around it.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { functionSpec } from "../../src/api/v1alpha1/function.ts";
import { parseS3Href, s3ErrorCode, s3Get, s3ObjectURL } from "../../src/artifacts/s3.ts";
import { amzDate, canonicalRequest, EMPTY_SHA256, signV4 } from "../../src/artifacts/sigv4.ts";
import { renderArtifacts } from "../../src/workload/artifacts.ts";

const s3Example = { accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" };
const at = new Date("2013-05-24T00:00:00Z");
const signatureOf = (h: Record<string, string>): string | undefined => /Signature=([0-9a-f]{64})$/.exec(h["authorization"] ?? "")?.[1];

describe("AWS Signature Version 4", () => {
  it("signs the S3 reference's GET Object example (Range bytes=0-9)", () => {
    const url = new URL("https://examplebucket.s3.amazonaws.com/test.txt");
    const headers = { range: "bytes=0-9", "x-amz-content-sha256": EMPTY_SHA256 };
    const { request, signedHeaders } = canonicalRequest({ method: "GET", url, headers: { ...headers, "x-amz-date": amzDate(at) }, payloadHash: EMPTY_SHA256 });
    assert.equal(signedHeaders, "host;range;x-amz-content-sha256;x-amz-date");
    assert.equal(createHash("sha256").update(request).digest("hex"), "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
    const signed = signV4({ method: "GET", url, headers, payloadHash: EMPTY_SHA256, region: "us-east-1", service: "s3", credentials: s3Example, now: at });
    assert.equal(
      signed["authorization"],
      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
    );
    assert.equal(signed["x-amz-date"], "20130524T000000Z");
  });

  it("signs the S3 reference's GET Bucket lifecycle and List Objects examples (query strings)", () => {
    const sign = (href: string): string | undefined =>
      signatureOf(signV4({ method: "GET", url: new URL(href), headers: { "x-amz-content-sha256": EMPTY_SHA256 }, payloadHash: EMPTY_SHA256, region: "us-east-1", service: "s3", credentials: s3Example, now: at }));
    assert.equal(sign("https://examplebucket.s3.amazonaws.com/?lifecycle"), "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
    assert.equal(sign("https://examplebucket.s3.amazonaws.com/?prefix=J&max-keys=2"), "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
  });

  it("signs the test suite's get-vanilla", () => {
    const signed = signV4({
      method: "GET",
      url: new URL("https://example.amazonaws.com/"),
      headers: {},
      payloadHash: EMPTY_SHA256,
      region: "us-east-1",
      service: "service",
      credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" },
      now: new Date("2015-08-30T12:36:00Z"),
    });
    assert.equal(signed["authorization"], "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
  });

  it("signs a session token and changes the signature with any signed input", () => {
    const base = { method: "GET", url: new URL("http://127.0.0.1:9000/b/k"), headers: {}, payloadHash: EMPTY_SHA256, region: "us-east-1", service: "s3", credentials: s3Example, now: at };
    const withToken = signV4({ ...base, credentials: { ...s3Example, sessionToken: "tok" } });
    assert.equal(withToken["x-amz-security-token"], "tok");
    assert.match(withToken["authorization"] ?? "", /SignedHeaders=host;x-amz-date;x-amz-security-token,/);
    const a = signatureOf(signV4(base));
    assert.notEqual(a, signatureOf(withToken));
    assert.notEqual(a, signatureOf(signV4({ ...base, region: "eu-west-1" })));
    assert.notEqual(a, signatureOf(signV4({ ...base, url: new URL("http://127.0.0.1:9000/b/k2") })));
    assert.notEqual(a, signatureOf(signV4({ ...base, credentials: { ...s3Example, secretAccessKey: "other" } })));
  });
});

describe("s3:// artifacts", () => {
  it("parses s3://bucket/key and addresses AWS (virtual-hosted) or an endpoint (path-style), encoding the key once", () => {
    assert.deepEqual(parseS3Href("s3://models/whisper/large v3+1.bin"), { bucket: "models", key: "whisper/large v3+1.bin" });
    assert.equal(parseS3Href("s3://models"), undefined);
    assert.equal(parseS3Href("s3://A_b/k"), undefined);
    const loc = { bucket: "models", key: "whisper/large v3+1.bin" };
    assert.equal(s3ObjectURL(loc, {}).toString(), "https://models.s3.us-east-1.amazonaws.com/whisper/large%20v3%2B1.bin");
    assert.equal(s3ObjectURL(loc, { region: "eu-west-1" }).host, "models.s3.eu-west-1.amazonaws.com");
    assert.equal(s3ObjectURL(loc, { endpoint: "http://127.0.0.1:9000/" }).toString(), "http://127.0.0.1:9000/models/whisper/large%20v3%2B1.bin");
  });

  it("sends an unsigned GET without credentials and a signed one (Range included) with them", () => {
    const loc = { bucket: "b", key: "m.bin" };
    const anon = s3Get(loc, { endpoint: "http://127.0.0.1:9000" }, undefined, {}, at);
    assert.equal(anon.headers["authorization"], undefined);
    const signed = s3Get(loc, { endpoint: "http://127.0.0.1:9000" }, s3Example, { range: "bytes=10-" }, at);
    assert.equal(signed.headers["range"], "bytes=10-");
    assert.match(signed.headers["authorization"] ?? "", /^AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE\/20130524\/us-east-1\/s3\/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]{64}$/);
    assert.equal(s3ErrorCode("<?xml version='1.0'?><Error><Code>SignatureDoesNotMatch</Code></Error>"), "SignatureDoesNotMatch");
    assert.equal(s3ErrorCode("nope"), undefined);
  });

  it("validates s3:// hrefs and url.s3, and renders url.s3 into the fetch step", () => {
    const base = { image: "img", handler: "app:Model" };
    const ok = (url: unknown): boolean => functionSpec.safeParse({ ...base, artifacts: [{ name: "w", url }] }).success;
    assert.equal(ok({ href: "s3://models/whisper.bin", s3: { endpoint: "http://minio.local:9000", region: "us-east-1" }, secretRef: { name: "s3" } }), true);
    assert.equal(ok({ href: "s3://models/whisper.bin" }), true);
    assert.equal(ok({ href: "s3://models" }), false);
    assert.equal(ok({ href: "s3://Models/x" }), false);
    assert.equal(ok({ href: "s3://models/x", s3: { endpoint: "minio:9000" } }), false);
    assert.equal(ok({ href: "s3://models/x", s3: { endpoint: "http://minio:9000/path" } }), false);
    assert.equal(ok({ href: "s3://models/x", s3: { region: "US East" } }), false);
    const wrong = functionSpec.safeParse({ ...base, artifacts: [{ name: "w", url: { href: "https://x/y", s3: { region: "us-east-1" } } }] });
    assert.match(JSON.stringify(wrong.error?.issues), /url\.s3 applies to s3:\/\/ hrefs only/);
    const parts = renderArtifacts([{ name: "w", url: { href: "s3://models/w.bin", s3: { endpoint: "http://minio:9000" }, secretRef: { name: "s3" } } }], { imageMode: "volume", cache: { hostPath: "/c" }, fetcherImage: "hearth", fetcherCommand: ["hearth", "artifacts", "fetch"] }, undefined);
    const specs = JSON.parse(parts.initContainers[0]?.env?.find((e) => e.name === "HEARTH_ARTIFACT_SPECS")?.value ?? "[]") as unknown;
    assert.deepEqual(specs, [{ name: "w", href: "s3://models/w.bin", s3: { endpoint: "http://minio:9000" }, headersDir: "/var/run/hearth/artifact-secrets/w" }]);
  });
});
