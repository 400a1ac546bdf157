"""A module that cannot be imported (twin of ../node/broken_import)."""

raise RuntimeError("broken on purpose")


def handler():  # pragma: no cover - never reached
    return None
