"""docker-compose.yml and the Dockerfile, checked statically (no Docker engine here).

SPEC §6: the compose file is kept identical in versions and settings to the native stack, so the
versions, ports and broker settings are read from the native stack's own files and compared.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.settings import parse_intake_tokens

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
POM = ROOT / "deploy" / "kafka" / "pom.xml"
SERVER_PROPERTIES = ROOT / "deploy" / "kafka" / "server.properties"
COMMON_SH = ROOT / "deploy" / "native" / "common.sh"
PROM = ROOT / "deploy" / "prometheus"
GRAFANA = ROOT / "deploy" / "grafana"

SERVICE_PORTS = {"intake": 8081, "router": 8082, "sla": 8083}
POSTGRES_MAJOR = 15
# Listener settings differ by necessity (container network names); everything else is identical.
KAFKA_NETWORK_KEYS = {
    "listeners",
    "advertised.listeners",
    "controller.quorum.voters",
    "inter.broker.listener.name",
    "listener.security.protocol.map",
    "controller.listener.names",
    "log.dirs",
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = compose["services"]
    return result


def _interpolate(value: str) -> str:
    """Compose's ${VAR:-default} with the variables unset."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value)


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: _interpolate(str(v)) for k, v in env.items()}


def _pom_kafka_version() -> str:
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    root = ET.parse(POM).getroot()
    properties = root.find("m:properties", ns)
    assert properties is not None, "pom.xml has no <properties>"
    props = {el.tag.split("}")[1]: (el.text or "").strip() for el in properties}
    for dep in root.iterfind("m:dependencies/m:dependency", ns):
        if (
            dep.findtext("m:groupId", namespaces=ns) == "org.apache.kafka"
            and dep.findtext("m:artifactId", namespaces=ns) == "kafka_2.13"
        ):
            version = dep.findtext("m:version", namespaces=ns) or ""
            return re.sub(r"\$\{([^}]+)\}", lambda m: props[m.group(1)], version)
    raise AssertionError("pom.xml does not pin org.apache.kafka:kafka_2.13")


def _server_properties() -> dict[str, str]:
    props = {}
    for line in SERVER_PROPERTIES.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            props[key.strip()] = value.strip()
    return props


def _native(var: str) -> str:
    match = re.search(rf'^{var}="?([^"\n]+)"?$', COMMON_SH.read_text(encoding="utf-8"), re.M)
    assert match, f"{var} not found in deploy/native/common.sh"
    return match.group(1)


def _bind_mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    mounts = []
    for volume in service.get("volumes", []):
        source, target = (
            (volume.split(":")[:2])
            if isinstance(volume, str)
            else (
                volume["source"],
                volume["target"],
            )
        )
        if source.startswith((".", "/")):
            mounts.append((source, target))
    return mounts


# --- structure -----------------------------------------------------------------------------------


def test_the_whole_system_is_there(services: dict[str, Any]) -> None:
    expected = {"kafka", "postgres", "migrate", *SERVICE_PORTS, "prometheus", "grafana"}
    assert expected <= services.keys()
    assert {"kafka-exporter", "postgres-exporter"} <= services.keys()


def test_referenced_files_exist(services: dict[str, Any]) -> None:
    for name, service in services.items():
        build = service.get("build")
        if build:
            context = ROOT / (build if isinstance(build, str) else build.get("context", "."))
            assert context.is_dir(), name
            dockerfile = (
                "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
            )
            assert (context / dockerfile).is_file(), name
        for source, _ in _bind_mounts(service):
            assert (ROOT / source).exists(), f"{name} mounts missing {source}"


def test_named_volumes_are_declared(compose: dict[str, Any], services: dict[str, Any]) -> None:
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in compose.get("volumes", {}), source


def test_every_long_running_service_restarts_and_has_a_healthcheck(
    services: dict[str, Any],
) -> None:
    for name, service in services.items():
        if name == "migrate":
            assert service["restart"] == "on-failure"
            continue
        assert service.get("restart") in {"unless-stopped", "always"}, name
        if name not in {"kafka-exporter", "postgres-exporter"}:
            assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"


# --- versions and ports of the native stack ------------------------------------------------------


def test_kafka_matches_the_native_broker(services: dict[str, Any]) -> None:
    kafka = services["kafka"]
    version = _pom_kafka_version()
    assert version == "3.9.1"
    assert kafka["image"] == f"apache/kafka:{version}"
    assert _native("KAFKA_VERSION") == version
    assert f"{_native('KAFKA_PORT')}:9092" in kafka["ports"]


def test_kafka_settings_match_server_properties(services: dict[str, Any]) -> None:
    env = _env(services["kafka"])
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, single node
    for key, value in _server_properties().items():
        if key in KAFKA_NETWORK_KEYS:
            continue
        var = "KAFKA_" + key.replace("_", "__").replace(".", "_").upper()
        assert env.get(var) == value, f"{var} should be {value!r} as in server.properties"
    assert env.get("CLUSTER_ID")


def test_kafka_listeners_serve_host_and_containers(services: dict[str, Any]) -> None:
    env = _env(services["kafka"])
    advertised = env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert "EXTERNAL://localhost:9092" in advertised  # host clients, as on the native stack
    internal = [a.split("://")[1] for a in advertised if not a.startswith("EXTERNAL")]
    for name in ("migrate", *SERVICE_PORTS):
        assert _env(services[name])["KAFKA_BOOTSTRAP_SERVERS"] in internal, name


def test_postgres_matches_the_native_cluster(services: dict[str, Any]) -> None:
    postgres = services["postgres"]
    image, _, tag = postgres["image"].partition(":")
    assert image == "postgres"
    assert int(tag.split(".")[0].split("-")[0]) == POSTGRES_MAJOR
    assert f"{_native('PG_PORT')}:5432" in postgres["ports"]
    assert _native("PG_PORT") == "5433"
    env = _env(postgres)
    assert env["POSTGRES_DB"] == _native("PG_DB")
    assert env["POSTGRES_USER"] == _native("PG_USER")
    assert env["POSTGRES_PASSWORD"] == _native("PG_PASSWORD")


@pytest.mark.parametrize(("name", "port"), SERVICE_PORTS.items())
def test_switchboard_service(services: dict[str, Any], name: str, port: int) -> None:
    service = services[name]
    assert service["command"] == ["switchboard", name]
    assert f"{port}:{port}" in service["ports"]
    env = _env(service)
    assert env["HTTP_PORT"] == str(port)
    assert env["DATABASE_URL"].startswith("postgresql://")
    assert "@postgres:5432/" in env["DATABASE_URL"]
    tokens = parse_intake_tokens(env["INTAKE_TOKENS"])
    assert any(scopes == {"phone", "email", "chat", "social"} for scopes in tokens.values())
    assert env["AGENT_TOKENS"]
    health = " ".join(service["healthcheck"]["test"])
    assert f"127.0.0.1:{port}/readyz" in health
    assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert service["image"] == services["migrate"]["image"]  # one image for all


def test_database_url_matches_the_postgres_service(services: dict[str, Any]) -> None:
    pg = _env(services["postgres"])
    expected = f"postgresql://{pg['POSTGRES_USER']}:{pg['POSTGRES_PASSWORD']}@postgres:5432/{pg['POSTGRES_DB']}"
    for name in ("migrate", *SERVICE_PORTS):
        assert _env(services[name])["DATABASE_URL"] == expected, name


def test_migrate_runs_migrations_and_topics_first(services: dict[str, Any]) -> None:
    command = " ".join(services["migrate"]["command"])
    assert "switchboard migrate" in command and "switchboard topics" in command
    assert command.index("switchboard migrate") < command.index("switchboard topics")
    depends = services["migrate"]["depends_on"]
    assert depends["kafka"]["condition"] == "service_healthy"
    assert depends["postgres"]["condition"] == "service_healthy"


# --- Prometheus and Grafana ---------------------------------------------------------------------


def test_prometheus_gets_config_and_rules(services: dict[str, Any]) -> None:
    prometheus = services["prometheus"]
    mounts = dict(_bind_mounts(prometheus))
    assert mounts["./deploy/prometheus/prometheus.yml"] == "/etc/prometheus/prometheus.yml"
    rules_target = mounts["./deploy/prometheus/rules"]
    config = yaml.safe_load((PROM / "prometheus.yml").read_text(encoding="utf-8"))
    assert all(p.startswith(rules_target + "/") for p in config["rule_files"])
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]


def test_prometheus_scrapes_the_compose_services(services: dict[str, Any]) -> None:
    config = yaml.safe_load((PROM / "prometheus.yml").read_text(encoding="utf-8"))
    for job in config["scrape_configs"]:
        for target in (t for sc in job["static_configs"] for t in sc["targets"]):
            host, _, port = target.partition(":")
            assert host == "localhost" or host in services, f"{job['job_name']}: {target}"
            if host in SERVICE_PORTS:
                assert int(port) == SERVICE_PORTS[host]


def test_prometheus_version_matches_debian(services: dict[str, Any]) -> None:
    tag = services["prometheus"]["image"].split(":")[1].lstrip("v")
    assert re.fullmatch(r"2\.42\.\d+", tag), "the native stack runs Debian's Prometheus 2.42"
    binary = shutil.which("prometheus")
    if binary:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
        native = re.search(r"version (\d+\.\d+)", out.stdout + out.stderr)
        assert native and tag.startswith(native.group(1) + ".")


def test_grafana_gets_provisioning_and_dashboards(services: dict[str, Any]) -> None:
    mounts = dict(_bind_mounts(services["grafana"]))
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    providers = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "switchboard.yml").read_text(encoding="utf-8")
    )["providers"]
    assert mounts["./deploy/grafana/dashboards"] == providers[0]["options"]["path"]


# --- Dockerfile -----------------------------------------------------------------------------------


def _dockerfile_lines() -> list[str]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_dockerfile_is_multi_stage_slim_and_non_root() -> None:
    lines = _dockerfile_lines()
    stages = [line for line in lines if line.upper().startswith("FROM ")]
    assert len(stages) >= 2
    assert stages[-1].split()[1] == "python:3.11-slim"
    assert any("--from=builder" in line for line in lines if line.upper().startswith("COPY"))
    users = [line.split()[1] for line in lines if line.upper().startswith("USER ")]
    assert users and users[-1].split(":")[0] not in {"root", "0"}


def test_dockerfile_copies_only_what_dockerignore_lets_in() -> None:
    allowed = {
        line.strip().lstrip("!").rstrip("/")
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip().startswith("!")
    }
    for line in _dockerfile_lines():
        if line.upper().startswith("COPY ") and "--from=" not in line:
            sources = line.split()[1:-1]
            for source in sources:
                assert (ROOT / source).exists(), source
                assert source.rstrip("/") in allowed, f"{source} is excluded by .dockerignore"
