"""Settings from the environment: unknown names and unusable values are refused, naming the variable."""

from __future__ import annotations

import re
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
            "NEWSETL_PER_HOST_DELAY": "0.25",
            "PATH": "/bin",
        }
    )
    assert settings.workers == 3 and settings.respect_robots is False
    assert settings.allow_networks == ("127.0.0.0/8", "::1/128")
    assert settings.taxonomy_file == Path("topics.yaml")
    assert settings.per_host_delay == 0.25


def test_no_variable_means_the_defaults_and_the_process_environment_is_not_read(monkeypatch) -> None:
    monkeypatch.setenv("NEWSETL_WORKERS", "7")
    assert Settings.from_env({}) == Settings()
    assert Settings().batch_size == 50 and Settings().taxonomy_file is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(word, True) for word in ("1", "true", "YES", " on ")]
    + [(w, False) for w in ("0", "False", "no", "off")],
)
def test_booleans_take_the_usual_spellings(raw, expected) -> None:
    assert Settings.from_env({"NEWSETL_RESPECT_ROBOTS": raw}).respect_robots is expected


def test_an_empty_taxonomy_file_means_the_bundled_one() -> None:
    assert Settings.from_env({"NEWSETL_TAXONOMY_FILE": ""}).taxonomy_file is None


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"NEWSETL_DATABSE_URL": "x"},
            "unknown setting NEWSETL_DATABSE_URL; did you mean NEWSETL_DATABASE_URL?",
        ),
        ({"NEWSETL_WORKERS": "two"}, "NEWSETL_WORKERS=two is not a whole number"),
        ({"NEWSETL_WORKERS": "1.5"}, "NEWSETL_WORKERS=1.5 is not a whole number"),
        ({"NEWSETL_HOST_BUDGET": "ten minutes"}, "NEWSETL_HOST_BUDGET='ten minutes' is not a number"),
        ({"NEWSETL_BATCH_SIZE": "0"}, "NEWSETL_BATCH_SIZE=0 must be at least 1"),
        ({"NEWSETL_PER_HOST_DELAY": "-1"}, "NEWSETL_PER_HOST_DELAY=-1 must be at least 0"),
        ({"NEWSETL_PAGE_DEADLINE": "0"}, "NEWSETL_PAGE_DEADLINE=0 must be more than 0"),
        ({"NEWSETL_HOST_BUDGET": "0"}, "NEWSETL_HOST_BUDGET=0 must be more than 0"),
        (
            {"NEWSETL_ALLOW_NETWORKS": "10.0.0.0/8,localhost"},
            "NEWSETL_ALLOW_NETWORKS (or --allow-network): 'localhost' is not a network in CIDR form",
        ),
        ({"NEWSETL_FEEDS_FILE": ""}, "NEWSETL_FEEDS_FILE (or --feeds) is empty; set a value, or unset it"),
        ({"NEWSETL_DATABASE_URL": ""}, "NEWSETL_DATABASE_URL (or --db) is empty"),
        (
            {"NEWSETL_RESPECT_ROBOTS": "maybe"},
            "NEWSETL_RESPECT_ROBOTS=maybe is not a yes or no; expected true/false",
        ),
        ({"NEWSETL_USER_AGENT": "/0.1"}, "NEWSETL_USER_AGENT=/0.1 needs a product name before '/'"),
    ],
)
def test_unusable_settings_are_refused_naming_the_variable_and_the_value(environ, message) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)) as refused:
        Settings.from_env(environ)
    assert "pydantic" not in str(refused.value) and len(str(refused.value).splitlines()) == 1


def test_every_unusable_value_is_reported_at_once_a_line_each() -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"NEWSETL_BATCH_SIZE": "0", "NEWSETL_WORKERS": "two", "NEWSETL_PAGE_DEADLINE": "5"})
    assert str(refused.value).splitlines() == [
        "NEWSETL_BATCH_SIZE=0 must be at least 1",
        "NEWSETL_WORKERS=two is not a whole number",
    ]


def test_a_lower_case_variable_is_not_ours() -> None:
    assert Settings.from_env({"newsetl_workers": "0"}).workers == Settings().workers


def test_overrides_are_checked_too_and_none_means_not_given() -> None:
    with pytest.raises(SettingsError, match="'not-a-cidr' is not a network"):
        Settings().with_overrides(allow_networks=("not-a-cidr",))
    with pytest.raises(SettingsError, match="unknown setting NEWSETL_BATCHSIZE"):
        Settings().with_overrides(batchsize=5)
    base = Settings.from_env({"NEWSETL_BATCH_SIZE": "5"})
    assert base.with_overrides(batch_size=None, host_budget=20).batch_size == 5
    assert base.with_overrides(host_budget=20).host_budget == 20.0


def test_the_database_url_is_never_echoed_in_an_error() -> None:
    with pytest.raises(SettingsError) as refused:
        Settings().with_overrides(database_url=["postgresql://u:s3cret@db/x"])
    assert "s3cret" not in str(refused.value) and "NEWSETL_DATABASE_URL" in str(refused.value)


def test_the_user_agent_has_one_default_the_readme_shows() -> None:
    assert Settings().user_agent == HttpPolicy().user_agent == DEFAULT_USER_AGENT
    assert f"`{DEFAULT_USER_AGENT}`" in README
