// The operator's way to the gateway: the TypeScript client (src/client) with the caller token of
// gatewayClient.callerTokenFile. The file is read again on every use so that a rotated token
// (a re-mounted Secret) is picked up; the client, and its keep-alive connections, is kept while
// the token stays the same.
import { readFile } from "node:fs/promises";
import { firstToken } from "../auth/caller-tokens.ts";
import { HearthClient } from "../client/client.ts";

export interface GatewayClientOptions {
  url: string;
  /** First line of this file is the caller bearer token; absent: no token. */
  callerTokenFile?: string | undefined;
  /** Concurrent connections to the gateway. Default 16. */
  maxSockets?: number;
}

export class GatewayClient {
  readonly url: string;
  private readonly opts: GatewayClientOptions;
  private current: { token: string; client: HearthClient } | undefined;

  constructor(opts: GatewayClientOptions) {
    this.opts = opts;
    this.url = opts.url;
  }

  /** The client with the current token. Throws when the token file cannot be read. */
  async client(): Promise<HearthClient> {
    const token = this.opts.callerTokenFile === undefined ? "" : (firstToken(await readFile(this.opts.callerTokenFile, "utf8")) ?? "");
    if (this.current?.token === token) return this.current.client;
    this.current?.client.close();
    // An empty token (not undefined) keeps the client from falling back to $HEARTH_TOKEN.
    const client = new HearthClient({ url: this.opts.url, token, maxSockets: this.opts.maxSockets ?? 16 });
    this.current = { token, client };
    return client;
  }

  close(): void {
    this.current?.client.close();
    this.current = undefined;
  }
}
