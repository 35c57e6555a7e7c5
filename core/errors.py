"""The one exception type for problems a user can fix, reported as a single line."""


class T2AError(Exception):
    """A user-facing error: the CLI prints its message on one line and exits non-zero."""
