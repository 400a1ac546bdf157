"""A Python handler that takes any one value (pickle Functions in the fuzz suite) and returns it."""


def echo(value=None):
    return value
