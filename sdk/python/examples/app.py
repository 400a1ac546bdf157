"""An example model Function: a Sieve-style class. Swap the body of setup()/predict() for a real
model (e.g. faster-whisper) — the shape stays the same."""

import time

import hearth


class Transcriber:
    def setup(self):
        # Runs once per worker process, before the worker reports ready: load weights here.
        # With gpu.split the runtime has already capped this process's share of GPU memory.
        self.vocabulary = {"hello": "hi", "world": "earth"}

    def predict(self, text: str, ctx: hearth.Context, slow: bool = False):
        words = text.split()
        out = []
        for i, word in enumerate(words, 1):
            if slow:
                time.sleep(0.2)
            out.append(self.vocabulary.get(word.lower(), word))
            # Streams to callers and extends the attempt's deadline.
            ctx.update_progress(i / len(words), f"word {i} of {len(words)}")
        if not out:
            raise hearth.InputRejected("text is empty")
        return {"text": " ".join(out), "words": len(out)}
