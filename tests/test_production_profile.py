"""OMS_ENV=production: GraphiQL, introspection and console logs are off unless set explicitly,
and the service refuses to start without OMS_DATABASE_URL, with demo data or with
OMS_DEBUG, saying why, before it starts anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.settings import Settings
from tests.process_helpers import clean_environment, run_clis

NOWHERE = "postgresql://nobody@127.0.0.1:1/nothing"  # never reached: refused before


def test_production_turns_graphiql_and_introspection_off_and_logs_json() -> None:
    settings = Settings(env="production", database_url=NOWHERE)
    assert (settings.graphiql, settings.introspection, settings.log_json) == (False, False, True)
    development = Settings()
    assert (development.graphiql, development.introspection) == (True, True)


def test_explicit_settings_win_over_the_production_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OMS_ENV", "production")
    monkeypatch.setenv("OMS_INTROSPECTION", "true")
    monkeypatch.setenv("OMS_LOG_JSON", "false")
    settings = Settings(database_url=NOWHERE)
    assert (settings.graphiql, settings.introspection, settings.log_json) == (False, True, False)


def test_production_refuses_to_start_without_a_database_url(tmp_path: Path) -> None:
    env = clean_environment(OMS_ENV="production", OMS_DATA_DIR=str(tmp_path / "data"))
    commands = [["serve"], ["migrate"], ["create-api-key", "--scope", "ops"]]
    for command, refused in zip(commands, run_clis([(c, env) for c in commands]), strict=True):
        assert refused.returncode == 1, (command, refused.stderr)
        assert "OMS_ENV=production needs OMS_DATABASE_URL" in refused.stderr
        assert refused.stdout == ""
    assert not (tmp_path / "data").exists()  # no embedded server was started


def test_production_refuses_demo_data_and_debug(tmp_path: Path) -> None:
    env = clean_environment(OMS_ENV="production", OMS_DATABASE_URL=NOWHERE)
    *demo, debug = run_clis(
        [
            (["demo-data"], env),
            (["serve", "--demo-data"], env),
            (["serve"], env | {"OMS_DEMO_DATA": "true"}),
            (["serve"], env | {"OMS_DEBUG": "true"}),
        ]
    )
    for refused in demo:
        assert refused.returncode == 1, (refused.args, refused.stderr)
        assert "never loads the demo data" in refused.stderr
    assert debug.returncode == 1
    assert "refuses OMS_DEBUG=true" in debug.stderr
