"""deploy/k8s: every manifest parses, and kinds, probes, ports and scaling bounds fit together."""

from __future__ import annotations

import functools
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.topics import INBOUND, LIFECYCLE, ROUTED, TOPICS

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT / "deploy" / "k8s"
KUSTOMIZATION = K8S / "kustomization.yaml"
SERVICE_PORTS = {"intake": 8081, "router": 8082, "sla": 8083}
CONSUMED = {"router": (INBOUND,), "sla": (ROUTED, LIFECYCLE)}

Doc = dict[str, Any]


def _docs(path: Path) -> list[Doc]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


@functools.cache
def _kustomization() -> Doc:
    data: Doc = yaml.safe_load(KUSTOMIZATION.read_text(encoding="utf-8"))
    return data


@functools.cache
def _manifests() -> tuple[Doc, ...]:
    return tuple(doc for name in _kustomization()["resources"] for doc in _docs(K8S / name))


def _by_kind(kind: str) -> dict[str, Doc]:
    return {d["metadata"]["name"]: d for d in _manifests() if d["kind"] == kind}


def _container(deployment: Doc) -> Doc:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    result: Doc = container
    return result


def test_every_yaml_file_parses() -> None:
    files = sorted(K8S.rglob("*.yaml"))
    assert len(files) >= 10
    for path in files:
        for doc in _docs(path):
            assert isinstance(doc, dict), path


def test_kustomization_lists_every_manifest() -> None:
    resources = _kustomization()["resources"]
    for name in resources:
        assert (K8S / name).is_file(), name
    manifests = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert manifests == set(resources), "a manifest is missing from kustomization.yaml"
    for generator in _kustomization()["configMapGenerator"]:
        for entry in generator["files"]:
            assert (K8S / entry.split("=", 1)[-1]).is_file(), entry


def test_manifests_have_kind_and_name() -> None:
    for doc in _manifests():
        assert doc["apiVersion"] and doc["kind"] and doc["metadata"]["name"], doc


def test_expected_kinds() -> None:
    kinds = Counter(d["kind"] for d in _manifests())
    assert kinds["Deployment"] == 3
    assert kinds["HorizontalPodAutoscaler"] == 3
    assert kinds["PodDisruptionBudget"] == 3
    assert kinds["Kafka"] == 1 and kinds["KafkaNodePool"] >= 1
    assert kinds["KafkaTopic"] == len(TOPICS)
    assert kinds["ConfigMap"] >= 1 and kinds["Secret"] == 1
    assert kinds["Job"] == 1 and kinds["Namespace"] == 1
    externals = [s for s in _by_kind("Service").values() if s["spec"].get("type") == "ExternalName"]
    assert [s["metadata"]["name"] for s in externals] == ["postgres"]


@pytest.mark.parametrize(("name", "port"), SERVICE_PORTS.items())
def test_deployment(name: str, port: int) -> None:
    deployment = _by_kind("Deployment")[name]
    container = _container(deployment)
    assert container["command"] == ["switchboard", name]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": port}
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    assert env["HTTP_PORT"] == str(port)
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = container[probe]["httpGet"]
        assert get["path"] == path, probe
        assert get["port"] in ("http", port), probe
    resources = container["resources"]
    for section in ("requests", "limits"):
        assert {"cpu", "memory"} <= resources[section].keys(), section
    spec = deployment["spec"]["template"]["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    refs = {next(iter(r.values()))["name"] for r in container["envFrom"]}
    assert refs == {"switchboard-env", "switchboard-secrets"}


@pytest.mark.parametrize(("name", "port"), SERVICE_PORTS.items())
def test_service_routes_to_the_deployment(name: str, port: int) -> None:
    service = _by_kind("Service")[name]
    (spec_port,) = service["spec"]["ports"]
    assert spec_port["port"] == port and spec_port["targetPort"] in ("http", port)
    labels = _by_kind("Deployment")[name]["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()


def test_config_maps_are_mounted_where_the_settings_point() -> None:
    generated = {g["name"] for g in _kustomization()["configMapGenerator"]}
    for name, variable in (("router", "ROUTER_RULES"), ("sla", "SLA_POLICY")):
        deployment = _by_kind("Deployment")[name]
        container = _container(deployment)
        env = {e["name"]: e.get("value") for e in container["env"]}
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        mount = next(
            m for m in container["volumeMounts"] if env[variable].startswith(m["mountPath"] + "/")
        )
        config_map = volumes[mount["name"]]["configMap"]["name"]
        assert config_map in generated
        (generator,) = [
            g for g in _kustomization()["configMapGenerator"] if g["name"] == config_map
        ]
        keys = {entry.split("=", 1)[0] for entry in generator["files"]}
        assert env[variable].rsplit("/", 1)[1] in keys


def test_deployment_config_copies_load() -> None:
    from services.router.triage.rules import load_rules
    from services.sla.policy import load_policy

    load_rules(K8S / "config" / "router-rules.yaml")
    load_policy(K8S / "config" / "sla-policies.yaml")


def test_hpas() -> None:
    hpas = _by_kind("HorizontalPodAutoscaler")
    partitions = {t.name: t.partitions for t in TOPICS}
    assert hpas["intake"]["spec"]["metrics"][0]["type"] == "Resource"
    assert hpas["intake"]["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    for name, topics in CONSUMED.items():
        spec = hpas[name]["spec"]
        (metric,) = spec["metrics"]
        assert metric["type"] == "External"
        assert metric["external"]["metric"]["name"] == "switchboard_consumer_lag_messages"
        assert metric["external"]["metric"]["selector"]["matchLabels"]["group"] == name
        assert spec["maxReplicas"] <= min(partitions[t] for t in topics), "idle consumers"
    for name, hpa in hpas.items():
        target = hpa["spec"]["scaleTargetRef"]
        assert target["kind"] == "Deployment" and target["name"] == name
        assert 2 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


def test_prometheus_adapter_serves_the_lag_metric() -> None:
    values = yaml.safe_load(
        (K8S / "prometheus-adapter" / "values.yaml").read_text(encoding="utf-8")
    )
    names = [r["name"]["as"] for r in values["rules"]["external"]]
    assert "switchboard_consumer_lag_messages" in names


def test_pdbs_select_the_deployments() -> None:
    pdbs = _by_kind("PodDisruptionBudget")
    for name, deployment in _by_kind("Deployment").items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert pdbs[name]["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_kafka_topics_match_shared_topics() -> None:
    declared = {t["spec"]["topicName"]: t for t in _by_kind("KafkaTopic").values()}
    assert declared.keys() == {t.name for t in TOPICS}
    for spec in TOPICS:
        topic = declared[spec.name]
        assert topic["spec"]["partitions"] == spec.partitions, spec.name
        assert int(topic["spec"]["config"]["retention.ms"]) == spec.retention_ms, spec.name
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] in _by_kind("Kafka")


def test_kafka_version_matches_the_native_stack() -> None:
    (kafka,) = _by_kind("Kafka").values()
    assert kafka["spec"]["kafka"]["version"] == "3.9.1"  # deploy/kafka/pom.xml
    assert "3.9.1" in (ROOT / "deploy" / "kafka" / "pom.xml").read_text(encoding="utf-8")
    env = _by_kind("ConfigMap")["switchboard-env"]["data"]
    listener = next(x for x in kafka["spec"]["kafka"]["listeners"] if not x["tls"])
    name = kafka["metadata"]["name"]
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == f"{name}-kafka-bootstrap:{listener['port']}"


def test_secret_holds_placeholders_only() -> None:
    (secret,) = _by_kind("Secret").values()
    assert set(secret["stringData"]) == {"INTAKE_TOKENS", "AGENT_TOKENS", "DATABASE_URL"}
    assert all("CHANGE-ME" in v for v in secret["stringData"].values())


def test_servicemonitor_keeps_the_job_names() -> None:
    (monitor,) = _by_kind("ServiceMonitor").values()
    label = monitor["spec"]["jobLabel"]
    for name in SERVICE_PORTS:
        assert _by_kind("Service")[name]["metadata"]["labels"][label] == name
