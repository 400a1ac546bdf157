// GETs against the gateway's console API for `hearth list` / `hearth describe`, with the same
// connection defaults as the client (--url/$HEARTH_URL, --token/$HEARTH_TOKEN).
export function gatewayUrl(flag: string | undefined): string {
  return (flag ?? process.env["HEARTH_URL"] ?? process.env["HEARTH_GATEWAY_URL"] ?? "http://127.0.0.1:8080").replace(/\/+$/, "");
}

export async function getJson<T>(url: string, token: string | undefined, path: string): Promise<T> {
  const auth = token ?? process.env["HEARTH_TOKEN"];
  let res: Response;
  try {
    res = await fetch(`${url}${path}`, { headers: auth === undefined || auth === "" ? {} : { authorization: `Bearer ${auth}` } });
  } catch (err) {
    throw new Error(`cannot reach the gateway at ${url}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const text = await res.text();
  if (!res.ok) {
    let message = text.slice(0, 500);
    let type = `HTTP ${res.status}`;
    try {
      const body = JSON.parse(text) as { error?: { type?: string; message?: string } };
      if (body.error?.message !== undefined) message = body.error.message;
      if (body.error?.type !== undefined) type = body.error.type;
    } catch {
      // not JSON: keep the text
    }
    throw new Error(`${type}: ${message}`);
  }
  return JSON.parse(text) as T;
}
