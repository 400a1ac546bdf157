"""The Hearth worker runtime: ``python -m hearth.runtime`` (see docs/protocol.md)."""
