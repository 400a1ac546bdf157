// /metrics on a port of its own (`hearth gateway --metrics-port`): the gateway's metrics name
// every Function, so clusters that expose the API port widely keep them on a port only the
// monitoring system reaches (optionally with a bearer token as well).
import { timingSafeEqual } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { Registry } from "prom-client";
import { bearer } from "./auth.ts";
import { errorJson } from "./http.ts";

export function tokenMatches(tokens: readonly string[], header: string | undefined): boolean {
  const given = bearer(header);
  if (given === undefined) return false;
  const g = Buffer.from(given);
  return tokens.some((t) => {
    const b = Buffer.from(t);
    return b.length === g.length && timingSafeEqual(b, g);
  });
}

export class MetricsServer {
  readonly server: Server;
  port = 0;

  constructor(registry: Registry, tokens: readonly string[] | undefined) {
    this.server = createServer((req, res) => {
      const path = (req.url ?? "/").split("?")[0];
      if (path !== "/metrics" || req.method !== "GET") {
        res.writeHead(404, { "content-type": "application/json" }).end(errorJson("NotFound", "this port serves GET /metrics only"));
        return;
      }
      if (tokens !== undefined && !tokenMatches(tokens, req.headers.authorization)) {
        res.writeHead(401, { "content-type": "application/json" }).end(errorJson("Unauthorized", "/metrics needs the metrics bearer token"));
        return;
      }
      registry.metrics().then(
        (text) => res.writeHead(200, { "content-type": registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    });
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 30_000;
    this.server.maxConnections = 64;
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => {
        const addr = this.server.address();
        this.port = typeof addr === "object" && addr !== null ? addr.port : port;
        resolve(this.port);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
