// The TypeScript client SDK (docs/protocol.md, "Caller API").
export { createClient, HearthClient, HearthError, outcomeOf, RemoteFunction, RemoteWorkflow, RunHandle, TaskHandle } from "./client.ts";
export type { CallOptions, ClientOptions, StepEvent, StepItem, TaskEvent } from "./client.ts";
export { EXIT_CODES, TASK_ERROR_TYPES } from "../protocol/index.ts";
export type { ErrorType, FunctionStats, TaskDocument, TaskError, TaskErrorType, TaskProgress, TaskStatus } from "../protocol/index.ts";
