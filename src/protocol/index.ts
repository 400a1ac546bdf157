// The wire contract of docs/protocol.md as types and tables: the one place the gateway, the Node
// runtime, the client SDK and the operator take a class name, a status code or a document shape
// from. Nothing here does I/O.
export * from "./errors.ts";
export * from "./exit-codes.ts";
export * from "./parse.ts";
export * from "./retry.ts";
export * from "./stats.ts";
export * from "./tasks.ts";
export * from "./worker.ts";
export * from "./logs.ts";
