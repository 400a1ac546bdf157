"""Input binding (twins of ../node/binding)."""


def add(a, b):
    return a + b


def greet(name, greeting="hello"):
    return f"{greeting}, {name}!"


def keys(payload):
    return sorted(payload)


def identity(value):
    return value


def nothing():
    return "nothing"


def with_context(x, ctx):
    return {"x": x, "hasContext": callable(getattr(ctx, "update_progress", None))}
