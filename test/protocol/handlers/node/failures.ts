// One handler per failure class, for test/protocol/cases.json (same names as
// handlers/python/failures.py).
import { FatalError, InputRejected } from "../../../../src/runtime/index.ts";

export function raise_error(message: string): never {
  throw new Error(message);
}

export function raise_long(length: number): never {
  throw new Error("e".repeat(length));
}

export class FailingSetup {
  setup(): void {
    throw new Error("weights missing");
  }

  predict(): string {
    return "unreachable";
  }
}

export class FatalSetup {
  setup(): void {
    throw new FatalError("no device");
  }

  predict(): string {
    return "unreachable";
  }
}

export class NoPredict {
  setup(): void {}

  run(): string {
    return "not a handler";
  }
}

export function unserializable(): bigint {
  return 10n;
}

export function exit_process(): never {
  process.exit(3);
}

export const not_callable = 42;

export function large_output(size: number): string {
  return "x".repeat(size);
}

export function reject(x: number): number {
  if (x <= 0) throw new InputRejected("x must be positive");
  return x;
}

export function fatal(): never {
  throw new FatalError("device lost");
}
