"""The handler of examples/llm-a100: ``handler: app:TextGenerator``.

A stand-in for an LLM on a whole GPU, standard library only: ``setup()`` "loads weights" (builds
a bigram table from a small corpus, as slowly as a real load would be noticeable), ``predict()``
generates deterministically and reports progress, which the gateway streams to callers and which
extends the attempt's deadline.
"""

import os
import random
import time

_CORPUS = """
the model loads its weights once and then serves many calls . the warm pool keeps workers ready
so that the first call does not wait for the model to load . a worker that crashes is replaced
and the call is retried by policy . the gateway queues calls and workers pull them when they are
free . progress updates extend the deadline of long calls .
"""


class TextGenerator:
    def setup(self):
        started = time.monotonic()
        self.model = os.environ.get("MODEL_NAME", "tiny-bigram")
        words = _CORPUS.split()
        self.next = {}
        for a, b in zip(words, words[1:]):
            self.next.setdefault(a, []).append(b)
        self.vocab = sorted(self.next)
        self.load_seconds = round(time.monotonic() - started, 3)

    def predict(self, prompt, max_tokens=24, seed=0, ctx=None):
        rng = random.Random(f"{seed}:{prompt}")
        words = str(prompt).lower().split()
        word = words[-1] if words and words[-1] in self.next else rng.choice(self.vocab)
        out = []
        for i in range(int(max_tokens)):
            word = rng.choice(self.next.get(word) or self.vocab)
            out.append(word)
            if ctx is not None and (i + 1) % 8 == 0:
                ctx.update_progress((i + 1) / max_tokens, f"{i + 1} tokens")
        return {"model": self.model, "text": " ".join(out), "tokens": len(out)}
