// The handler of examples/echo-cpu: `handler: app:Echo`. setup() runs once per worker process
// (readiness turns true after it), predict() once per call. Input {"name": "Ada"} binds to the
// parameter by name; a bare string binds as the single argument.
export class Echo {
  private greeting = "";
  private calls = 0;

  setup(): void {
    this.greeting = process.env["GREETING"] ?? "Hello";
  }

  predict(name: string): { message: string; worker: string; calls: number } {
    this.calls++;
    return { message: `${this.greeting}, ${name}!`, worker: process.env["HEARTH_WORKER_ID"] ?? "local", calls: this.calls };
  }
}
