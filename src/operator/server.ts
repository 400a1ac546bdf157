// /healthz, /readyz and /metrics on one small HTTP server. Standbys serve it too: they are
// alive and ready (caches warm) while another replica leads.
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

export interface Probe {
  ok: boolean;
  /** Shown in the response body, one line per check. */
  detail: string;
}

export interface HealthServerOptions {
  host: string;
  port: number;
  registry: Registry;
  healthz(): Probe;
  readyz(): Probe;
}

export interface HealthServer {
  port: number;
  url: string;
  close(): Promise<void>;
}

export async function startHealthServer(opts: HealthServerOptions): Promise<HealthServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const reply = (code: number, body: string, type = "text/plain; charset=utf-8"): void => {
      res.writeHead(code, { "content-type": type, "cache-control": "no-store" });
      res.end(body);
    };
    if (req.method !== "GET" && req.method !== "HEAD") return reply(405, "method not allowed\n");
    try {
      switch (path) {
        case "/healthz":
        case "/livez": {
          const p = opts.healthz();
          return reply(p.ok ? 200 : 503, `${p.detail}\n`);
        }
        case "/readyz": {
          const p = opts.readyz();
          return reply(p.ok ? 200 : 503, `${p.detail}\n`);
        }
        case "/metrics":
          opts.registry.metrics().then(
            (text) => reply(200, text, opts.registry.contentType),
            (err: unknown) => reply(500, `metrics failed: ${err instanceof Error ? err.message : String(err)}\n`),
          );
          return;
        default:
          return reply(404, "not found: try /healthz, /readyz or /metrics\n");
      }
    } catch (err) {
      return reply(500, `${err instanceof Error ? err.message : String(err)}\n`);
    }
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.host === "0.0.0.0" || opts.host === "::" ? "127.0.0.1" : opts.host;
  return {
    port,
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
