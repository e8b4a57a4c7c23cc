"""The checked-in SDL is what frontends read: it must match the code."""

from __future__ import annotations

from graphql_schema.schema import SCHEMA_FILE, export_sdl


def test_the_checked_in_schema_graphql_is_current() -> None:
    assert SCHEMA_FILE.exists(), "run `make schema` and commit graphql_schema/schema.graphql"
    assert SCHEMA_FILE.read_text(encoding="utf-8") == export_sdl(), (
        "graphql_schema/schema.graphql is stale: run `make schema` and commit it"
    )
