"""Errors the CLI turns into exit statuses (docs/contract/operating-interface.md)."""


class UsageError(Exception):
    """Bad arguments or configuration: exit status 2 with a one-line reason on stderr."""


EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
