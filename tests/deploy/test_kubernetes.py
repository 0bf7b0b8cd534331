"""deploy/kubernetes: valid for Kubernetes, consistent with the image and the service."""

from __future__ import annotations

import hashlib
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

from service.config.settings import ConfigError, Settings
from service.ops.readiness import LIVENESS_SERVICE
from service.workers.supervisor import STOP_MARGIN_S
from tests.deploy.files import (
    CONFIG_MOUNT,
    KUBERNETES,
    SECRETS_MOUNT,
    container,
    container_port,
    load,
    manifests,
    names_read_by_service,
    secret_names,
    venv_tool,
)

# The oldest Kubernetes the manifests support (preStop `sleep` is on by default from 1.30),
# and the newest the installed kubernetes-validate knows (its default).
OLDEST = "1.30.0"
POD_LABELS = {
    "app.kubernetes.io/name": "ach-risk",
    "app.kubernetes.io/component": "server",
}


@pytest.mark.parametrize("version", [OLDEST, None], ids=["oldest", "newest"])
def test_every_manifest_is_valid_strictly(version: str | None) -> None:
    files = manifests()
    command = [str(venv_tool("kubernetes-validate")), "--strict"]
    if version:
        command += ["--kubernetes-version", version]
    result = subprocess.run(
        [*command, *map(str, files)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for path in files:
        assert f"{path} passed" in output, output


def test_the_kustomization_lists_every_manifest_but_the_example_secret() -> None:
    listed = load(KUBERNETES / "kustomization.yaml")["resources"]
    assert sorted(listed) == sorted(
        p.name for p in manifests() if p.name != "secret.example.yaml"
    )


def test_one_namespace_for_everything() -> None:
    for path in manifests():
        resource = load(path)
        if resource["kind"] == "Namespace":
            assert resource["metadata"]["name"] == "ach-risk"
        else:
            assert resource["metadata"]["namespace"] == "ach-risk", path.name


@pytest.fixture(scope="module")
def deployment() -> dict[str, Any]:
    return load(KUBERNETES / "deployment.yaml")


@pytest.fixture(scope="module")
def env(deployment: dict[str, Any]) -> dict[str, str]:
    variables = container(deployment)["env"]
    assert all(set(v) == {"name", "value"} for v in variables), "plain values only"
    return {v["name"]: v["value"] for v in variables}


def test_three_replicas_in_production(
    deployment: dict[str, Any], env: dict[str, str]
) -> None:
    assert deployment["spec"]["replicas"] == 3
    assert env["PLAID_ENV"] == "production"
    assert deployment["spec"]["selector"]["matchLabels"] == POD_LABELS
    assert deployment["spec"]["template"]["metadata"]["labels"] == POD_LABELS


def test_environment_names_are_ones_the_service_reads(env: dict[str, str]) -> None:
    assert set(env) <= names_read_by_service(), set(env) - names_read_by_service()


def test_secrets_come_from_mounted_files_only(
    deployment: dict[str, Any], env: dict[str, str]
) -> None:
    example = load(KUBERNETES / "secret.example.yaml")
    keys = set(example["stringData"])
    for name in secret_names():
        assert name not in env, f"{name} as a value: use {name}_FILE"
        assert env[f"{name}_FILE"].startswith(SECRETS_MOUNT)
    files = {v.removeprefix(SECRETS_MOUNT) for v in env.values() if SECRETS_MOUNT in v}
    assert files == keys, "every Secret key is used, and only those"
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    mounts = {m["mountPath"]: m for m in container(deployment)["volumeMounts"]}
    secrets = mounts[SECRETS_MOUNT.rstrip("/")]
    assert secrets["readOnly"] is True
    assert volumes[secrets["name"]]["secret"]["secretName"] == "ach-risk-secrets"
    assert example["metadata"]["name"] == "ach-risk-secrets"


def test_example_secret_values_are_placeholders() -> None:
    values = load(KUBERNETES / "secret.example.yaml")["stringData"].values()
    assert all("REPLACE-ME" in value for value in values)


def test_the_config_map_is_mounted_where_ach_risk_config_points(
    deployment: dict[str, Any], env: dict[str, str]
) -> None:
    config_map = load(KUBERNETES / "configmap.yaml")
    assert env["ACH_RISK_CONFIG"] == CONFIG_MOUNT + "config.toml"
    assert "config.toml" in config_map["data"]
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    (mount,) = (
        m
        for m in container(deployment)["volumeMounts"]
        if m["mountPath"] == CONFIG_MOUNT.rstrip("/")
    )
    assert volumes[mount["name"]]["configMap"]["name"] == config_map["metadata"]["name"]


def test_probes_ask_grpc_health_on_the_grpc_port(deployment: dict[str, Any]) -> None:
    spec = container(deployment)
    grpc_port = container_port(deployment, "grpc")
    assert grpc_port == 50051
    assert container_port(deployment, "metrics") == 9464
    for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
        probe = spec[kind]
        assert set(probe) - {"periodSeconds", "timeoutSeconds", "failureThreshold"} == {
            "grpc"
        }, kind
        assert probe["grpc"]["port"] == grpc_port, kind
    # Readiness follows the ledger and Plaid; liveness (and the startup probe that
    # gates it) only the process, so an outage of either restarts nothing.
    assert spec["readinessProbe"]["grpc"]["service"] == ""
    assert spec["livenessProbe"]["grpc"]["service"] == LIVENESS_SERVICE
    assert spec["startupProbe"]["grpc"]["service"] == LIVENESS_SERVICE


def test_the_pod_is_hardened(deployment: dict[str, Any]) -> None:
    pod = deployment["spec"]["template"]["spec"]
    spec = container(deployment)
    context = spec["securityContext"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert context["runAsNonRoot"] is True
    assert context["runAsUser"] == pod["securityContext"]["runAsUser"] == 10001
    assert context["allowPrivilegeEscalation"] is False
    assert context["readOnlyRootFilesystem"] is True
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    volumes = {v["name"]: v for v in pod["volumes"]}
    writable = {
        m["mountPath"]: volumes[m["name"]]
        for m in spec["volumeMounts"]
        if not m.get("readOnly")
    }
    assert set(writable) == {"/app/var", "/tmp"}
    assert all("emptyDir" in volume for volume in writable.values())
    assert spec["resources"]["requests"].keys() == {"cpu", "memory"}
    assert spec["resources"]["limits"].keys() == {"cpu", "memory"}


def test_the_runtime_uid_is_the_images(deployment: dict[str, Any]) -> None:
    dockerfile = (KUBERNETES.parents[1] / "Dockerfile").read_text()
    uid = deployment["spec"]["template"]["spec"]["securityContext"]["runAsUser"]
    assert f"\nUSER {uid}:{uid}\n" in dockerfile


def _config_toml() -> str:
    text: str = load(KUBERNETES / "configmap.yaml")["data"]["config.toml"]
    return text


def test_shutdown_outlasts_the_drain(deployment: dict[str, Any]) -> None:
    grace_s = tomllib.loads(_config_toml())["server"]["grace_s"]
    pre_stop = container(deployment)["lifecycle"]["preStop"]["sleep"]["seconds"]
    termination = deployment["spec"]["template"]["spec"][
        "terminationGracePeriodSeconds"
    ]
    assert termination > pre_stop + grace_s + STOP_MARGIN_S  # a worker's kill margin
    assert grace_s == 10


def test_one_worker_per_core_of_the_cpu_limit(
    deployment: dict[str, Any], env: dict[str, str]
) -> None:
    """`auto` would count the node's cores, which a CPU limit does not narrow: the
    Deployment names the count, equal to the cores it limits and requests."""
    resources = container(deployment)["resources"]
    assert env["ACH_RISK_WORKERS"] != "auto"
    workers = int(env["ACH_RISK_WORKERS"])
    assert workers > 1
    assert resources["limits"]["cpu"] == resources["requests"]["cpu"] == str(workers)


def test_prometheus_scrapes_the_metrics_port(deployment: dict[str, Any]) -> None:
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert int(annotations["prometheus.io/port"]) == container_port(
        deployment, "metrics"
    )
    assert annotations["prometheus.io/path"] == "/metrics"
    args = container(deployment)["args"]
    assert args[args.index("--metrics-listen") + 1] == "0.0.0.0:9464"


def test_services_route_to_the_named_container_ports(
    deployment: dict[str, Any],
) -> None:
    names = {p["name"] for p in container(deployment)["ports"]}
    for file in ("service.yaml", "service-headless.yaml"):
        spec = load(KUBERNETES / file)["spec"]
        assert spec["selector"] == POD_LABELS
        ports = {p["name"]: p for p in spec["ports"]}
        assert ports["grpc"]["port"] == 50051
        assert ports["grpc"]["appProtocol"] == "grpc"
        assert {p["targetPort"] for p in spec["ports"]} <= names
    service = load(KUBERNETES / "service.yaml")["spec"]
    assert service["type"] == "ClusterIP"
    assert {p["name"]: p["port"] for p in service["ports"]} == {
        "grpc": 50051,
        "metrics": 9464,
    }


def test_autoscaling_and_disruption_budget_follow_the_deployment() -> None:
    hpa = load(KUBERNETES / "hpa.yaml")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"]["name"] == "ach-risk"
    assert hpa["spec"]["minReplicas"] >= 3
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
    pdb = load(KUBERNETES / "pdb.yaml")
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"]["selector"]["matchLabels"] == POD_LABELS
    assert pdb["spec"]["maxUnavailable"] == 1


def _ports(rules: list[dict[str, Any]]) -> list[int]:
    return sorted({p["port"] for rule in rules for p in rule["ports"]})


def test_network_policy_allows_only_callers_prometheus_dns_postgres_https() -> None:
    spec = load(KUBERNETES / "networkpolicy.yaml")["spec"]
    assert spec["podSelector"]["matchLabels"] == POD_LABELS
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert _ports(spec["ingress"]) == [9464, 50051]
    assert all(rule.get("from") for rule in spec["ingress"]), "no ingress from anyone"
    assert _ports(spec["egress"]) == [53, 443, 5432]


# The ConfigMap's TOML, through the service's own loader, with the Deployment's environment.

CHECKOUT_KEY = "deploy-test-checkout-key"
CHECKOUT_HASH = hashlib.sha256(CHECKOUT_KEY.encode()).hexdigest()
SECRET_FILES = {
    "PLAID_CLIENT_ID": "deploy-test-client-id",
    "PLAID_SECRET": "deploy-test-secret",
    "ACH_RISK_DATABASE_URL": "postgresql://ach_risk:pw@postgres:5432/ach_risk",
    "ACH_RISK_FINGERPRINT_KEY": "deploy-test-fingerprint-key",
    "api-keys.toml": f'[callers.checkout]\nkey_sha256 = ["{CHECKOUT_HASH}"]\n',
}


def _environment_in(
    folder: Path, env: dict[str, str], secrets: dict[str, str]
) -> dict[str, str]:
    """The Deployment's environment, its mounted files written under `folder`."""
    files = {SECRETS_MOUNT + k: v for k, v in secrets.items()}
    files[CONFIG_MOUNT + "config.toml"] = _config_toml()
    local = {}
    for name, value in env.items():
        if value in files:
            path = folder / value.lstrip("/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(files[value])
            value = str(path)
        local[name] = value
    return local


def test_the_service_accepts_the_config_map_in_production(
    tmp_path: Path, env: dict[str, str]
) -> None:
    settings = Settings.from_environ(_environment_in(tmp_path, env, SECRET_FILES))
    assert settings.plaid.env == "production"
    assert settings.plaid.base_url == "https://production.plaid.com"
    assert settings.plaid.secret.reveal() == "deploy-test-secret"
    assert settings.state.database_url.reveal().startswith("postgresql+psycopg://")
    assert not settings.state.development_fingerprint_key
    assert settings.server.api_key_hashes == {CHECKOUT_HASH: "checkout"}
    assert settings.server.tls is None  # the kubelet's gRPC probes speak plaintext
    assert settings.listen == "0.0.0.0:50051"
    assert settings.server.metrics_listen == "0.0.0.0:9464"
    assert settings.server.workers == 2
    assert settings.log_format == "json"
    assert settings.config_source.endswith("/etc/ach-risk/config.toml")
    assert {"balance-only", "sts-scores-only"} <= set(settings.policies.rulesets)
    assert settings.policies.degraded_default.fails_closed
    assert settings.policies.degraded_by_caller == {}


def test_the_example_secret_as_it_is_refuses_to_start(
    tmp_path: Path, env: dict[str, str]
) -> None:
    example = load(KUBERNETES / "secret.example.yaml")["stringData"]
    with pytest.raises(ConfigError, match="ACH_RISK_API_KEYS_FILE"):
        Settings.from_environ(_environment_in(tmp_path, env, example))
