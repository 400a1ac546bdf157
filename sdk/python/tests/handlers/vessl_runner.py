"""A runner as VESSL's docs write one: static methods, predict(model, data)."""

import vessl


class SentimentRunner(vessl.RunnerBase):
    @staticmethod
    def load_model(props, artifacts):
        # Stands in for torch.load(...): the "model" is a scoring table.
        return {"good": 1, "great": 2, "bad": -1, "awful": -2, "props": props, "artifacts": artifacts}

    @staticmethod
    def preprocess_data(data):
        return data["text"].lower().split()

    @staticmethod
    def predict(model, data):
        return sum(model.get(word, 0) for word in data)

    @staticmethod
    def postprocess_data(data):
        return {"label": "positive" if data > 0 else "negative" if data < 0 else "neutral", "score": data}


class DefaultsRunner(vessl.RunnerBase):
    """Overrides only what VESSL requires: the base's identity pre/post-processing applies."""

    @staticmethod
    def load_model(props, artifacts):
        return 3

    @staticmethod
    def predict(model, data):
        return [x * model for x in data]
