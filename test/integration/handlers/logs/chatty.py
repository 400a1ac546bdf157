"""``handler: chatty:Chatty``. Prints from setup() (untagged) and from each call (tagged with the
task id by the runtime)."""

import sys


class Chatty:
    def setup(self):
        print("chatty(python): setup done", flush=True)

    def predict(self, word: str) -> str:
        print(f"chatty(python) says {word}")
        print(f"chatty(python) warns {word}\nsecond line {word}", file=sys.stderr)
        return word.upper()
