"""transform's errors, and the tree every layer shares, re-exported so that load/ needs no other layer.

The tree itself (NewsetlError -> ConfigError, InputError, RunError) is written out in
newsetl.extract.errors. Raised here:

    ConfigError
    ├── TaxonomyError         the topic taxonomy file cannot be read or is not a valid taxonomy
    ├── AliasesError          the entity aliases file cannot be read or is not a valid aliases file
    └── PipelineMissing       the chosen spaCy pipeline is not installed
    InputError
    ├── FeedParseError        a feed body yields no feed (newsetl.transform.feeds)
    └── EmptyExtraction       a page yields no article text (newsetl.transform.articles)
"""

from __future__ import annotations

from newsetl.extract.errors import ConfigError, InputError, NewsetlError, RunError

__all__ = [
    "AliasesError",
    "ConfigError",
    "InputError",
    "NewsetlError",
    "PipelineMissing",
    "RunError",
    "TaxonomyError",
]


class TaxonomyError(ConfigError):
    """The taxonomy file cannot be read, or says something a taxonomy cannot."""


class AliasesError(ConfigError):
    """The aliases file cannot be read, or says something an aliases file cannot (one line per problem)."""


class PipelineMissing(ConfigError):
    """The spaCy pipeline asked for is not installed."""
