"""What can be checked of the shipping files without a Docker engine or a cluster: the k8s
manifests against the Kubernetes schemas (kubernetes-validate), the Dockerfile with hadolint,
and the configurations they carry through permindex's own config loader."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from permindex.config import PermindexConfig

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
MANIFESTS = sorted((DEPLOY / "k8s").glob("*.yaml"))
K8S_VERSION = "1.31"


def documents() -> list[dict[str, Any]]:
    return [doc for path in MANIFESTS for doc in yaml.safe_load_all(path.read_text()) if doc]


def pod_specs() -> list[tuple[str, dict[str, Any]]]:
    return [
        (doc["metadata"]["name"], doc["spec"]["template"]["spec"])
        for doc in documents()
        if doc["kind"] in ("Deployment", "StatefulSet")
    ]


@pytest.mark.parametrize("doc", documents(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_manifest_is_valid_against_the_kubernetes_schema(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_pods_run_unprivileged_with_limits_and_probes() -> None:
    for name, spec in pod_specs():
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        for container in spec["containers"]:
            assert container["resources"]["limits"], name
            assert "livenessProbe" in container, name
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, name


def test_one_scheduler_and_an_autoscaled_api() -> None:
    by_kind = {(d["kind"], d["metadata"]["name"]): d for d in documents()}
    assert by_kind[("Deployment", "permindex-scheduler")]["spec"]["replicas"] == 1
    hpa = by_kind[("HorizontalPodAutoscaler", "permindex-api")]["spec"]
    assert hpa["scaleTargetRef"]["name"] == "permindex-api"


SECRETS = "/run/permindex-secrets/"


def test_shipped_configurations_load_and_read_secrets_from_files(tmp_path: Path) -> None:
    configmap = next(d for d in documents() if d["kind"] == "ConfigMap")
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    for name in ("opensearch_password", "opensearch_admin_password", "redis_password"):
        (tmp_path / name).write_text("s3cret-Aa1!")
    shipped = [
        configmap["data"]["permindex.yaml"],
        compose["configs"]["permindex-config"]["content"],
    ]
    for text in shipped:
        assert SECRETS in text
        # The secrets are read when the configuration loads: point them at test files.
        config = PermindexConfig(**yaml.safe_load(text.replace(SECRETS, f"{tmp_path}/")))
        assert config.index.opensearch is not None
        assert config.index.opensearch.url.startswith("https://")
        assert config.queue.broker_password_file is not None
        password = config.index.opensearch.password
        assert password is not None and "s3cret" in password.get_secret_value()


def test_compose_runs_the_stack_with_security_on() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"opensearch", "redis", "scheduler", "worker", "api"} <= set(services)
    assert services["worker"]["deploy"]["replicas"] == 2
    assert "DISABLE_SECURITY_PLUGIN" not in services["opensearch"]["environment"]
    assert all(
        "healthcheck" in services[s] for s in ("opensearch", "redis", "scheduler", "worker", "api")
    )


def test_dockerfile_is_multi_stage_non_root_with_a_health_check() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert text.count("\nFROM ") >= 2
    assert "\nUSER 10001" in text
    assert "\nHEALTHCHECK " in text


@pytest.mark.skipif(shutil.which("hadolint") is None, reason="hadolint not installed")
def test_dockerfile_passes_hadolint() -> None:
    result = subprocess.run(
        ["hadolint", str(DEPLOY / "Dockerfile")], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
