"""``python -m app simulate`` on a small catalogue: the report has its figures, queue fairness
holds, every delay and every slip is told, no invariant breaks, and a seed gives the same report
(docs/simulation.md). Timing is not asserted: the default run is measured in the docs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.settings import Settings
from app.simulation import simulate_at, summary, write_report
from tests.support import create_database, drop_database

DAYS = 30
SEED = 3


async def _report(admin_url: str, template: str, name: str, mail: Path) -> dict[str, Any]:
    url = await create_database(admin_url, name, template=template)
    try:
        settings = Settings(database_url=url, mail_dir=mail, log_json=True)
        return await simulate_at(url, settings, DAYS, SEED, small=True)
    finally:
        await drop_database(admin_url, name)


@pytest.fixture(scope="module")
async def reports(
    pg_admin_url: str, template_database: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, Any], dict[str, Any]]:
    mail = tmp_path_factory.mktemp("sim-mail")
    first = await _report(pg_admin_url, template_database, "oms_sim_first", mail)
    second = await _report(pg_admin_url, template_database, "oms_sim_second", mail)
    return first, second


def test_the_report_compares_delivered_lines_with_their_first_promise(
    reports: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    report = reports[0]
    accuracy = report["accuracy"]
    assert accuracy["delivered_lines"] > 20
    assert (
        accuracy["inside_first_window"] + accuracy["late_lines"] + accuracy["early_lines"]
        == accuracy["delivered_lines"]
    )
    assert sum(report["deviation_histogram_days"].values()) == accuracy["delivered_lines"]
    assert 0 <= accuracy["inside_first_window_percent"] <= 100
    assert accuracy["mean_deviation_percent_of_wait"] >= 0
    assert set(report["accuracy_by_sku"]) <= {"MUG-SIM", "HEADSET-SIM", "CONSOLE-SIM"}
    assert report["config"] == report["config"] | {"days": DAYS, "seed": SEED}


def test_the_simulation_drives_the_real_use_cases_and_jobs(
    reports: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    activity = reports[0]["activity"]
    assert activity["orders_placed"] > 0
    assert activity["receipts"] > 0
    assert activity["dispatches"] > 0
    assert activity["deliveries"] > 0
    assert activity["job_runs"] >= DAYS * 10
    assert activity["job_errors"] == 0
    assert reports[0]["repromises_by_cause"]["PLACED"] > 0


def test_no_line_is_served_before_an_earlier_eligible_one(
    reports: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    fairness = reports[0]["fairness"]
    assert fairness["queue_events_checked"] > 0
    assert fairness["holds"], fairness["examples"]
    assert reports[0]["invariant_errors"] == 0


def test_every_slip_is_re_promised_and_every_delay_is_told(
    reports: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    delays = reports[0]["delays"]
    assert delays["slips_announced"] > 0
    assert delays["every_delay_told"]
    assert delays["every_slip_told"]
    assert delays["delays_told"] == delays["delays"]


def test_the_same_seed_gives_the_same_report(
    reports: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    first, second = ({k: v for k, v in r.items() if k != "runtime_seconds"} for r in reports)
    assert first == second


def test_the_report_is_written_as_json_with_a_chart(
    reports: tuple[dict[str, Any], dict[str, Any]], tmp_path: Path
) -> None:
    report = reports[0]
    chart = write_report(report, tmp_path / "report.json")
    assert json.loads((tmp_path / "report.json").read_text())["accuracy"] == report["accuracy"]
    assert chart == tmp_path / "report.png"
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert any(line.startswith("inside first window:") for line in summary(report))
