"""The handler of examples/sentiment-t4-split: ``handler: app:Sentiment``.

A stand-in for a small GPU model (a lexicon instead of weights, standard library only) with the
shape of the real thing: load once in ``setup()``, score in ``predict()``, and respect the GPU
fraction the platform gave this worker.
"""

import os
import re

_POSITIVE = {"good", "great", "love", "excellent", "fast", "happy", "nice", "wonderful", "best", "like"}
_NEGATIVE = {"bad", "awful", "hate", "slow", "broken", "sad", "terrible", "worst", "bug", "crash"}
_WORD = re.compile(r"[a-z']+")


class Sentiment:
    def setup(self):
        # A real model would load weights here and cap its GPU memory, e.g.
        # torch.cuda.set_per_process_memory_fraction(self.gpu_fraction).
        self.gpu_fraction = float(os.environ.get("HEARTH_GPU_FRACTION", "1"))
        self.lexicon = {w: 1.0 for w in _POSITIVE} | {w: -1.0 for w in _NEGATIVE}

    def predict(self, text):
        words = _WORD.findall(str(text).lower())
        hits = [self.lexicon[w] for w in words if w in self.lexicon]
        score = sum(hits) / len(hits) if hits else 0.0
        label = "positive" if score > 0.1 else "negative" if score < -0.1 else "neutral"
        return {"label": label, "score": round(score, 3), "words": len(words)}
