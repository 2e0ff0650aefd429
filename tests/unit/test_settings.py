"""Settings from the environment: unknown names and unusable values are refused, naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsetl.extract.policy import DEFAULT_USER_AGENT, HttpPolicy
from newsetl.flows.settings import Settings, SettingsError

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_values_are_parsed_by_type() -> None:
    settings = Settings.from_env(
        {
            "NEWSETL_WORKERS": "3",
            "NEWSETL_ALLOW_NETWORKS": "127.0.0.0/8, ::1/128",
            "NEWSETL_RESPECT_ROBOTS": "no",
            "NEWSETL_TAXONOMY_FILE": "topics.yaml",
            "PATH": "/bin",
        }
    )
    assert settings.workers == 3 and settings.respect_robots is False
    assert settings.allow_networks == ("127.0.0.0/8", "::1/128")
    assert settings.taxonomy_file == Path("topics.yaml")


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"NEWSETL_DATABSE_URL": "x"}, "unknown setting NEWSETL_DATABSE_URL"),
        ({"NEWSETL_WORKERS": "two"}, "NEWSETL_WORKERS='two' is not a valid int"),
        ({"NEWSETL_BATCH_SIZE": "0"}, "NEWSETL_BATCH_SIZE=0 must be at least 1"),
        ({"NEWSETL_PER_HOST_DELAY": "-1"}, "NEWSETL_PER_HOST_DELAY=-1.0 must be at least 0.0"),
        ({"NEWSETL_PAGE_DEADLINE": "0"}, "NEWSETL_PAGE_DEADLINE=0.0 must be more than 0.0"),
        ({"NEWSETL_ALLOW_NETWORKS": "localhost"}, "'localhost' is not a network"),
        ({"NEWSETL_FEEDS_FILE": ""}, "NEWSETL_FEEDS_FILE is empty"),
        ({"NEWSETL_RESPECT_ROBOTS": "maybe"}, "expected true/false"),
    ],
)
def test_unusable_settings_are_refused_with_their_name(environ, message) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(environ)


def test_overrides_are_checked_too() -> None:
    with pytest.raises(SettingsError, match="not a network"):
        Settings().with_overrides(allow_networks=("not-a-cidr",))


def test_the_user_agent_has_one_default_the_readme_shows() -> None:
    assert Settings().user_agent == HttpPolicy().user_agent == DEFAULT_USER_AGENT
    assert f"`{DEFAULT_USER_AGENT}`" in README
