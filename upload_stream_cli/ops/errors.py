"""Errors of the ops tools; the commands turn them into exit status 1."""


class OpsError(Exception):
    """An ops command could not finish (broker unreachable, a read cut short, ...)."""
