// Names of what a Function owns. Function names are at most 52 characters (CRD rule), so the
// suffixes below always fit in 63.
export const FIELD_MANAGER = "hearth-function-controller";
export const CONTROLLER_NAME = "function";

export function deploymentName(functionName: string): string {
  return `${functionName}-pool`;
}

/** Where callers reach the Function on the gateway. */
export function endpointOf(namespace: string, name: string): string {
  return `/v1/namespaces/${namespace}/functions/${name}`;
}
