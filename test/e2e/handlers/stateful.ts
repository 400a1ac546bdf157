// A model whose state comes from setup(): the e2e tests check setup() ran once per worker.
let SETUPS = 0;

export class Model {
  private weights: { factor: number } | undefined;

  setup(): void {
    SETUPS++;
    // Stands in for loading weights: predict() cannot answer without it.
    this.weights = { factor: 3 };
  }

  predict(x: number): { y: number; pid: number; setups: number } {
    if (this.weights === undefined) throw new Error("predict() before setup()");
    return { y: x * this.weights.factor, pid: process.pid, setups: SETUPS };
  }
}
