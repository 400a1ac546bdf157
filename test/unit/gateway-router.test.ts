import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HttpError } from "../../src/gateway/http.ts";
import { Router } from "../../src/gateway/router.ts";

describe("gateway router", () => {
  const router = new Router<string>()
    .add("GET", "/v1/stats", "allStats")
    .add("*", "/v1/tasks/{id}/{*rest}", "workflow", (raw) => raw[2]?.startsWith("run-") === true)
    .add("GET", "/v1/tasks/{id}", "get")
    .add("DELETE", "/v1/tasks/{id}", "cancel")
    .add("POST", "/v1/tasks/{id}/complete", "complete")
    .add("POST", "/v1/namespaces/{ns}/functions/{name}:run", "run")
    .add("POST", "/v1/namespaces/{ns}/functions/{name}:push", "push")
    .add("POST", "/v1/namespaces/{ns}/functions/{name}:pushMany", "pushMany")
    .add("*", "/healthz", "health");

  it("finds the route by method and path and decodes its parameters once", () => {
    assert.deepEqual(router.match("GET", "/v1/stats"), { type: "found", handler: "allStats", params: {}, rest: [] });
    assert.deepEqual(router.match("GET", "/v1/tasks/a%2Fb"), { type: "found", handler: "get", params: { id: "a/b" }, rest: [] });
    assert.deepEqual(router.match("POST", "/v1/tasks/t1/complete"), { type: "found", handler: "complete", params: { id: "t1" }, rest: [] });
    assert.equal(router.match("PUT", "/healthz").type, "found");
  });

  it("matches a literal suffix of a segment after decoding it (:run, :push, :pushMany)", () => {
    assert.deepEqual(router.match("POST", "/v1/namespaces/ns/functions/echo:run"), { type: "found", handler: "run", params: { ns: "ns", name: "echo" }, rest: [] });
    assert.deepEqual(router.match("POST", "/v1/namespaces/ns/functions/echo%3Apush"), { type: "found", handler: "push", params: { ns: "ns", name: "echo" }, rest: [] });
    assert.deepEqual(router.match("POST", "/v1/namespaces/ns/functions/echo:pushMany"), { type: "found", handler: "pushMany", params: { ns: "ns", name: "echo" }, rest: [] });
    assert.deepEqual(router.match("POST", "/v1/namespaces/ns/functions/echo"), { type: "notFound" });
  });

  it("takes the remaining segments with {*rest}, only where its condition holds", () => {
    assert.deepEqual(router.match("POST", "/v1/tasks/run-1/steps/a"), { type: "found", handler: "workflow", params: { id: "run-1" }, rest: ["steps", "a"] });
    assert.deepEqual(router.match("GET", "/v1/tasks/run-1"), { type: "found", handler: "workflow", params: { id: "run-1" }, rest: [] });
    assert.deepEqual(router.match("GET", "/v1/tasks/t1/steps"), { type: "notFound" });
  });

  it("tells 404 from 405 and names the methods a path has", () => {
    assert.deepEqual(router.match("GET", "/v1/nothing"), { type: "notFound" });
    assert.deepEqual(router.match("GET", "/v1/tasks/"), { type: "notFound" });
    assert.deepEqual(router.match("GET", "/v1/stats/x"), { type: "notFound" });
    assert.deepEqual(router.match("PUT", "/v1/tasks/t1"), { type: "methodNotAllowed", allow: ["GET", "DELETE"] });
    assert.deepEqual(router.match("GET", "/v1/namespaces/ns/functions/echo:run"), { type: "methodNotAllowed", allow: ["POST"] });
  });

  it("answers a malformed segment with 400", () => {
    assert.throws(() => router.match("GET", "/v1/tasks/%E0%A4%A"), (e: unknown) => e instanceof HttpError && e.status === 400);
  });

  it("refuses a pattern whose rest is not last", () => {
    assert.throws(() => new Router<string>().add("GET", "/a/{*rest}/b", "x"), /must be last/);
  });
});
