"""docker-compose.yml must be a valid, coherent deployment even though CI cannot run Docker."""

from __future__ import annotations

from pathlib import Path

import yaml

from app.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def _compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_runs_the_app_with_the_oldest_supported_postgres_and_mailpit() -> None:
    services = _compose()["services"]
    assert set(services) >= {"app", "postgres", "mailpit"}
    assert services["postgres"]["image"] == "postgres:15"  # CI runs the suite on 15 and 18
    assert services["mailpit"]["image"].startswith("axllent/mailpit")
    assert services["app"]["build"] == "."
    assert (ROOT / "Dockerfile").exists()


def test_compose_dependencies_and_volumes_are_declared() -> None:
    compose = _compose()
    services = compose["services"]
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown service {dependency}"
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith((".", "/")):
                assert source in compose.get("volumes", {}), f"volume {source} is not declared"


def test_every_app_environment_variable_is_a_known_setting() -> None:
    known = {f"OMS_{name.upper()}" for name in Settings.model_fields}
    for service in ("app", "worker"):
        environment = _compose()["services"][service]["environment"]
        for variable, value in environment.items():
            assert variable in known, f"{service}: {variable} is not a setting"
            assert isinstance(value, str), f"{service}: {variable} must be a string in compose"


def test_the_api_leaves_jobs_and_mail_to_a_worker_that_starts_after_it_migrated() -> None:
    services = _compose()["services"]
    api, worker = services["app"]["environment"], services["worker"]
    assert api["OMS_SCHEDULER_SECONDS"] == api["OMS_MAIL_RELAY_SECONDS"] == "0"
    assert worker["command"] == ["python", "-m", "app", "worker"]
    assert worker["depends_on"]["app"]["condition"] == "service_healthy"
    assert worker["environment"]["OMS_DATABASE_URL"] == api["OMS_DATABASE_URL"]
    port = worker["environment"]["OMS_WORKER_PORT"]
    assert f":{port}/readyz" in " ".join(worker["healthcheck"]["test"])
    assert "OMS_SCHEDULER_SECONDS" not in worker["environment"]  # the defaults: both loops on


def test_the_app_points_at_the_compose_postgres() -> None:
    environment = _compose()["services"]["app"]["environment"]
    url = environment["OMS_DATABASE_URL"]
    assert "@postgres:5432/" in url


def test_the_image_installs_the_runtime_lock_runs_unprivileged_and_checks_readiness() -> None:
    text = (ROOT / "Dockerfile").read_text()
    stages = [line for line in text.splitlines() if line.startswith("FROM ")]
    assert len(stages) == 2  # build and runtime: no compilers or lock tools in the image
    assert "requirements/runtime.lock" in text
    assert "--require-hashes" in text
    assert "dev.lock" not in text
    assert "embedded" not in text.split("FROM python:3.12-slim\n")[-1]
    assert "\nUSER oms" in text
    assert "/readyz" in text.split("HEALTHCHECK", 1)[1]
    assert "OMS_ENV=production" in text
