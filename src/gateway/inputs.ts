// What callers and workers send as task data: a caller's request body as the task's stored
// input, and a worker's pickle output as stored. Shared by the caller routes and workflows.
import { PICKLE_CONTENT_TYPE, type Encoding } from "../protocol/index.ts";
import { HttpError, str } from "./http.ts";
import type { FunctionSettings } from "./registry.ts";

/** The request body as the task's stored input: JSON text, or base64 of pickle bytes. */
export function decodeInput(body: Buffer, contentType: string | undefined, fn: FunctionSettings): { input: string; encoding: Encoding } {
  const type = (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  if (type === PICKLE_CONTENT_TYPE) {
    if (fn.encoding !== "pickle") throw new HttpError(400, "BadRequest", `function ${fn.namespace}/${fn.name} uses encoding json: send JSON, not ${PICKLE_CONTENT_TYPE}`);
    return { input: body.toString("base64"), encoding: "pickle" };
  }
  if (fn.encoding === "pickle") throw new HttpError(400, "BadRequest", `function ${fn.namespace}/${fn.name} uses encoding pickle: send Content-Type: ${PICKLE_CONTENT_TYPE}`);
  const text = body.toString("utf8").trim();
  if (text === "") return { input: "null", encoding: "json" };
  try {
    JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, "BadRequest", `input is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  return { input: text, encoding: "json" };
}

/**
 * A pickle task's output as stored: `outputB64`, or the items of a pickle map step
 * (`outputItemsB64`, a list of base64 pickles) as JSON text (src/gateway/workflows/values.ts).
 */
export function pickleOutput(body: Record<string, unknown>): string {
  const items = body["outputItemsB64"];
  if (items === undefined) return str(body, "outputB64", {});
  if (!Array.isArray(items) || !items.every((i) => typeof i === "string" && /^[A-Za-z0-9+/]*={0,2}$/.test(i))) {
    throw new HttpError(400, "BadRequest", `"outputItemsB64" must be a list of base64 strings`);
  }
  return JSON.stringify(items);
}
