// CPU profiles of the apiserver while a bench phase runs: consecutive `seconds`-long profiles from
// its /debug/pprof (a cluster started with `node hack/cluster.ts up --profiling`), saved as
// <dir>/<label>-<n>.pb.gz. `go tool pprof -top <dir>/<label>-*.pb.gz` merges a phase's files.
// The last profile of a phase runs up to `seconds` past the phase's end.
import http from "node:http";
import https from "node:https";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Connection } from "../../src/kube/kubeconfig.ts";

async function cpuProfile(conn: Connection, seconds: number): Promise<Buffer> {
  const url = new URL(`${conn.server}/debug/pprof/profile?seconds=${seconds}`);
  const headers = await conn.headers();
  const tls = conn.tls;
  const mod = url.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(url, { headers, rejectUnauthorized: tls.rejectUnauthorized, ...(tls.ca !== undefined ? { ca: tls.ca } : {}), ...(tls.cert !== undefined ? { cert: tls.cert } : {}), ...(tls.key !== undefined ? { key: tls.key } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const body = Buffer.concat(chunks);
        if (res.statusCode === 200) resolve(body);
        else reject(new Error(`GET /debug/pprof/profile: ${String(res.statusCode)} ${body.toString("utf8").slice(0, 200)} (start the cluster with \`node hack/cluster.ts up --profiling\`)`));
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

export class ApiserverProfiler {
  private readonly conn: Connection;
  private readonly dir: string;
  private readonly seconds: number;
  private readonly log: (msg: string) => void;
  private running: Promise<void> | undefined;
  private stopping = false;

  constructor(opts: { connection: Connection; dir: string; seconds?: number; log: (msg: string) => void }) {
    this.conn = opts.connection;
    this.dir = opts.dir;
    this.seconds = opts.seconds ?? 10;
    this.log = opts.log;
    mkdirSync(this.dir, { recursive: true });
  }

  /** Starts profiling; files are named `<label>-000.pb.gz`, `<label>-001.pb.gz`, … */
  start(label: string): void {
    this.stopping = false;
    const loop = async (): Promise<void> => {
      for (let n = 0; !this.stopping; n++) {
        try {
          const profile = await cpuProfile(this.conn, this.seconds);
          writeFileSync(join(this.dir, `${label}-${String(n).padStart(3, "0")}.pb.gz`), profile);
        } catch (err) {
          this.log(`apiserver profile: ${err instanceof Error ? err.message : String(err)}`);
          return;
        }
      }
      this.log(`apiserver profiles of ${label}: go tool pprof -top ${join(this.dir, `${label}-*.pb.gz`)}`);
    };
    this.running = loop();
  }

  /** Stops after the profile in progress (at most `seconds`). */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.running;
    this.running = undefined;
  }
}
