// Lease grants as the worker API sends them (docs/protocol.md "Worker API"): each input spliced
// in as stored (JSON text or base64), never parsed and encoded again.
import type { LeaseGrant } from "./tasks.ts";

/** One grant, its input spliced in as stored (JSON text or base64). */
export function renderGrant(g: LeaseGrant): string {
  const token = g.token === undefined ? "" : `"token":${JSON.stringify(g.token)},`;
  const head = `{"id":${JSON.stringify(g.id)},"attempt":${g.attempt},"leaseId":${JSON.stringify(g.leaseId)},"encoding":"${g.encoding}","deadline":${g.deadline},"timeoutSeconds":${g.timeoutSeconds},${token}`;
  const items = `${g.outputItems === true ? `"outputItems":true,` : ""}${g.fold === true ? `"fold":true,` : ""}`;
  return g.encoding === "pickle" ? `${head}${items}"inputB64":${JSON.stringify(g.input)}}` : `${head}${items}"input":${g.input}}`;
}

/** `{"tasks":[…]}` with each input spliced in as stored (JSON text or base64). */
export function renderGrants(grants: readonly LeaseGrant[], acksJson?: string): string {
  const parts = grants.map(renderGrant);
  return acksJson === undefined ? `{"tasks":[${parts.join(",")}]}` : `{"tasks":[${parts.join(",")}],"results":${acksJson}}`;
}
