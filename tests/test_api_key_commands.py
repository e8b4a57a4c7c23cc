"""The key commands: create-api-key (optionally expiring) prints only the key, so that
KEY=$(python -m app create-api-key ...) works; list-api-keys shows every key but no secret;
revoke-api-key revokes by prefix."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.process_helpers import clean_environment, run_cli, run_clis


async def test_create_list_and_revoke_api_keys_from_the_command_line(database_url: str) -> None:
    env = clean_environment(OMS_DATABASE_URL=database_url)
    # the calls that depend on no other run side by side
    shop, admin, late, both, unknown = run_clis(
        [
            (
                [
                    "create-api-key",
                    *("--scope", "storefront", "--name", "shop", "--expires-in-days", "30"),
                ],
                env,
            ),
            (
                [
                    "create-api-key",
                    "--scope",
                    "ops",
                    "--name",
                    "admin",
                    "--expires-at",
                    "2099-01-31",
                ],
                env,
            ),
            (["create-api-key", "--scope", "ops", "--expires-at", "2001-01-01"], env),
            (
                [
                    "create-api-key",
                    *("--scope", "ops", "--expires-at", "2099-01-01", "--expires-in-days", "3"),
                ],
                env,
            ),
            (["revoke-api-key", "0123456789ab"], env),
        ]
    )
    assert shop.returncode == 0, shop.stderr
    assert re.fullmatch(r"oms_[0-9a-f]{12}_\S+\n", shop.stdout)
    shop_key = shop.stdout.strip()
    shop_prefix = shop_key.split("_")[1]
    assert admin.returncode == 0, admin.stderr
    assert late.returncode == 2
    assert "not in the future" in late.stderr
    assert both.returncode == 2  # one expiry or the other

    table = run_cli(["list-api-keys"], env)
    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.splitlines()
    assert header.split() == ["PREFIX", "NAME", "SCOPES", "CREATED", "EXPIRES", "REVOKED", "STATUS"]
    shop_row = next(r for r in rows if r.startswith(shop_prefix))
    assert shop_row.split()[1:3] == ["shop", "storefront"]
    assert shop_row.split()[-1] == "active"
    assert shop_key.split("_", 2)[2] not in table.stdout + table.stderr

    assert run_cli(["revoke-api-key", shop_prefix], env).stdout == f"revoked: {shop_prefix}\n"
    again = run_cli(["revoke-api-key", shop_key], env)  # the whole key names it too
    assert again.stdout == f"already revoked: {shop_prefix}\n"
    assert shop_key.split("_", 2)[2] not in again.stdout + again.stderr
    assert unknown.returncode == 1
    assert "no API key has the prefix" in unknown.stderr

    listed = run_cli(["list-api-keys", "--json"], env)
    keys = {k["prefix"]: k for k in map(json.loads, listed.stdout.splitlines())}
    assert keys[shop_prefix]["status"] == "revoked"
    assert keys[shop_prefix]["revoked_at"] is not None
    assert keys[shop_prefix]["scopes"] == ["storefront"]
    admin_prefix = admin.stdout.split("_")[1]
    assert keys[admin_prefix]["expires_at"] == "2099-01-31T00:00:00+00:00"
    assert keys[admin_prefix]["status"] == "active"


def test_create_api_key_prints_only_the_key_and_no_runtime_dir_warning(tmp_path: Path) -> None:
    env = clean_environment(OMS_DATA_DIR=str(tmp_path / "data"))
    env.pop("XDG_RUNTIME_DIR", None)
    created = run_cli(["create-api-key", "--scope", "ops", "--name", "me"], env)
    assert created.returncode == 0, created.stderr
    assert re.fullmatch(r"oms_[0-9a-f]{12}_\S+\n", created.stdout)
    assert "XDG_RUNTIME_DIR" not in created.stderr
    assert "Warning" not in created.stderr
