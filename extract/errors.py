"""newsetl's errors, as one tree: a caller decides by class what to do, and the command line by class which
exit code to give.

    NewsetlError              every error newsetl raises on purpose
    ├── ConfigError           a setting, the feeds file, the taxonomy, the spaCy pipeline, the database URL or
    │                         its schema is unusable: nothing ran; fix it and start again (exit code 2)
    ├── InputError            one input (a response, a feed, a page) cannot be used: recorded as its outcome,
    │                         never the end of a run
    └── RunError              the run cannot go on (database unreachable or full, run lock taken over,
                              a worker process that cannot start); what it loaded stays (exit code 1)

Each layer subclasses these where its errors arise (extract's SsrfBlocked and BodyTooLarge, transform's
FeedParseError, load's DatabaseUnavailable, flows' SettingsError, ...). They live in the lowest layer so that
every layer can: extract imports no other layer, and the layers above re-export this module.
Any other exception is a bug: it ends a run loudly, with its traceback.
"""

from __future__ import annotations

from newsetl.extract.records import Outcome


class NewsetlError(Exception):
    """Every error newsetl raises on purpose; the message is written for the person who has to act on it."""


class ConfigError(NewsetlError):
    """Something the user configured cannot be used; the message says what and how to fix it."""


class InputError(NewsetlError):
    """One input cannot be used; `outcome` is what it is recorded as, `detail` the short reason."""

    outcome: Outcome = Outcome.PARSE_ERROR

    def __init__(self, detail: str, outcome: Outcome | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if outcome is not None:
            self.outcome = outcome


class RunError(NewsetlError):
    """The run cannot go on; what it loaded before stays loaded."""
