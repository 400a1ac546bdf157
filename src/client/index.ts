// The TypeScript client SDK (docs/protocol.md, "Caller API").
export { createClient, HearthClient, HearthError, outcomeOf, RemoteFunction, RemoteWorkflow, RunHandle, TaskHandle } from "./client.ts";
export type { CallOptions, ClientOptions, FunctionStats, StepEvent, StepItem, TaskEvent } from "./client.ts";
export { EXIT_CODES, TASK_ERROR_TYPES } from "./protocol.ts";
export type { ErrorType, TaskDocument, TaskError, TaskErrorType, TaskProgress, TaskStatus } from "./protocol.ts";
