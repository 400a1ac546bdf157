"""A stand-in for the real ``vessl`` SDK's ``RunnerBase`` (same static-method defaults, per
VESSL's reference docs), so that a runner written for VESSL can be imported here unchanged."""


class RunnerBase:
    @staticmethod
    def save_model(model):
        return None

    @staticmethod
    def load_model(props, artifacts):
        raise NotImplementedError("load_model must be overridden")

    @staticmethod
    def preprocess_data(data):
        return data

    @staticmethod
    def predict(model, data):
        raise NotImplementedError("predict must be overridden")

    @staticmethod
    def postprocess_data(data):
        return data
