// `handler: chatty:Chatty`. Prints from setup() (untagged) and from each call (tagged with the task id by the runtime).
export class Chatty {
  setup(): void {
    console.log("chatty(node): setup done");
  }

  predict(word: string): string {
    console.log(`chatty(node) says ${word}`);
    console.error(`chatty(node) warns ${word}\nsecond line ${word}`);
    return word.toUpperCase();
  }
}
