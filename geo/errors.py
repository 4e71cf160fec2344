"""One tree of errors for everything a user can get wrong or ask for that cannot be done.

Every error Gapmap raises for a user derives from :class:`GapmapError`. Its message is written
for an analyst (what was wrong and what to do), and it carries the HTTP status the web service
answers with: the CLI prints the message and exits with status 1 (in one place, ``geo.cli``),
and the Flask app turns it into an error page or a JSON error (in one handler, ``app``).
Anything else that escapes is a bug: the app logs it and shows a reference, never a traceback.
"""
from __future__ import annotations


class GapmapError(Exception):
    """A request that cannot be done, in words for the user; ``http_status`` says how the web
    service answers it (400 unless a subclass or the raiser says otherwise)."""

    http_status = 400

    def __init__(self, message: str = "", *, http_status: int | None = None):
        super().__init__(message)
        if http_status is not None:
            self.http_status = http_status


class NotFound(GapmapError):
    """Something named that does not exist (a place, an indicator, a dataset)."""

    http_status = 404


class Unavailable(GapmapError):
    """The service cannot answer now (no store built yet, a build in progress)."""

    http_status = 503


class InvalidValue(GapmapError, ValueError):
    """A value or option outside what a method accepts (a statistic's parameters, a rate's inputs,
    an export format). Also a ``ValueError``, as Python code calling the methods expects."""
