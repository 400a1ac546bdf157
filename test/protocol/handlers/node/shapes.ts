// Handler shapes for test/protocol/cases.json (same names as handlers/python/shapes.py).

export class Greeter {
  greeting = "";

  setup(): void {
    this.greeting = "hello";
  }

  predict(name: string): string {
    return `${this.greeting}, ${name}`;
  }
}

let SETUPS = 0;

export class Counter {
  calls = 0;

  setup(): void {
    SETUPS++;
  }

  predict(): { setups: number; calls: number } {
    this.calls++;
    return { setups: SETUPS, calls: this.calls };
  }
}

export function double(x: number): number {
  return x * 2;
}

export async function async_double(x: number): Promise<number> {
  await Promise.resolve();
  return x * 2;
}

export class Runner {
  scale = 0;

  load_model(): void {
    this.scale = 10;
  }

  preprocess_data(x: { values: number[] }): number[] {
    return x.values;
  }

  predict(x: number[]): number[] {
    return x.map((v) => v * this.scale);
  }

  postprocess_data(y: number[]): { scaled: number[] } {
    return { scaled: y };
  }
}
