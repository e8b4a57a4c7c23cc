"""The README is the fresh-machine path: two commands first, every setting documented."""

from __future__ import annotations

import re
from pathlib import Path

from app.settings import Settings, settings_table

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_the_first_two_code_blocks_are_make_run_and_make_test() -> None:
    blocks = re.findall(r"```[a-z]*\n(.*?)```", README, flags=re.S)
    assert [b.strip() for b in blocks[:2]] == ["make run", "make test"]


def test_every_setting_is_in_the_readme_table() -> None:
    for name in Settings.model_fields:
        assert f"`OMS_{name.upper()}`" in README, f"OMS_{name.upper()} is not documented"


def test_the_readme_table_is_the_one_the_settings_print() -> None:
    # ``python -m app settings-table`` prints it: no stale row, no missing one
    assert settings_table() in README
