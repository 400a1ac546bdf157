// Per-Function numbers the gateway reports (`GET /v1/namespaces/{ns}/functions/{name}/stats`
// and, for every Function at once, `GET /v1/stats`).

export interface FunctionStats {
  queueDepth: number;
  inFlight: number;
  warmWorkers: number;
  busyWorkers: number;
}

/** One entry of `GET /v1/stats`. */
export interface NamedFunctionStats extends FunctionStats {
  namespace: string;
  name: string;
}

/** `GET /v1/stats`. */
export interface AllStats {
  functions: NamedFunctionStats[];
}
