"""Errors of the local stack. The CLI maps them to exit statuses; the test harness turns them
into a skip on a laptop and a failure under CI."""


class StackError(Exception):
    """The local stack (or one part of it) could not be started, provisioned or stopped.

    The message says which part and, for a process that died, ends with the tail of its log.
    """


class MissingToolError(StackError):
    """A program the local launchers need (`java`, `mvn`) is not on PATH."""
