"""Types a handler can annotate its parameters with, for the signature it reports."""

from __future__ import annotations


class File(str):
    """A URL of an input file (``https://``, ``s3://``, ``data:``…). A ``str`` at run time; the
    reported signature gives it ``{"type": "string", "format": "uri"}`` so forms ask for a URL."""

    __slots__ = ()
