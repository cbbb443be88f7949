"""The one exception type users see: a clear sentence, no traceback."""


class UnlearnBenchError(Exception):
    """A problem with the user's input or environment, reported as one sentence."""
