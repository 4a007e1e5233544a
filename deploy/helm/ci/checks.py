"""Assertions on the chart's rendered manifests, and CRD schemas for the examples.

Run by scripts/check-deploy with the tools venv's Python (PyYAML comes with
kubernetes-validate):

    checks.py rendered SCENARIO MANIFESTS.yaml CHART_DIR
        asserts what the chart must render for one scenario (a values file
        under deploy/helm/ci/ or "default"); prints one line per failed
        assertion and exits 1 if any failed.
    checks.py crd-schemas CRDS_DIR EXAMPLES_DIR OUT_DIR
        writes, for every document of every example, the document as JSON and
        the JSON Schema of its kind and version (the CRD's openAPIV3Schema,
        made strict the way `kubectl apply` is: unknown fields are errors) and
        prints "SCHEMA INSTANCE SOURCE" lines for check-jsonschema.
"""

import json
import os
import sys

import yaml

LABEL_KEYS = [
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/part-of",
]
RELEASE = "rel"
NAMESPACE = "mon"

failures = []


def check(cond, message):
    if not cond:
        failures.append(message)
    return cond


def load(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def index(docs):
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def of_kind(docs, kind):
    return [d for d in docs if d["kind"] == kind]


def one(docs, kind, component=None):
    found = [
        d
        for d in of_kind(docs, kind)
        if component is None or d["metadata"]["labels"].get("app.kubernetes.io/component") == component
    ]
    check(len(found) == 1, f"expected one {kind} (component {component}), found {len(found)}")
    return found[0] if found else None


def env_of(container):
    return {e["name"]: e for e in container.get("env", [])}


def env_value(container, name):
    e = env_of(container).get(name)
    return None if e is None else e.get("value")


def pod_spec(workload):
    return workload["spec"]["template"]["spec"]


def container(workload, name):
    for c in pod_spec(workload)["containers"]:
        if c["name"] == name:
            return c
    check(False, f"{workload['kind']} {workload['metadata']['name']} has no container {name}")
    return {}


# === checks on every scenario ===


def check_common(docs, chart):
    app_version = str(chart["appVersion"])
    for d in docs:
        if d["kind"] == "CustomResourceDefinition":
            # crds/ is installed verbatim (Helm does not template it): the
            # generated CRDs carry no release labels.
            check(d["spec"]["group"] == "oxmon.io", f"CRD {d['metadata']['name']}: group is not oxmon.io")
            continue
        what = f"{d['kind']} {d['metadata']['name']}"
        labels = d["metadata"].get("labels") or {}
        for key in LABEL_KEYS:
            check(key in labels, f"{what}: label {key} missing")
        check(labels.get("app.kubernetes.io/version") == app_version, f"{what}: app.kubernetes.io/version is not {app_version}")
        if d["kind"] in ("DaemonSet", "Deployment", "StatefulSet"):
            template_labels = d["spec"]["template"]["metadata"]["labels"]
            for key, value in d["spec"]["selector"]["matchLabels"].items():
                check(template_labels.get(key) == value, f"{what}: pod template lacks selector label {key}")
            check_hardened(d)
    check_secret_refs(docs)


def check_hardened(workload):
    what = f"{workload['kind']} {workload['metadata']['name']}"
    spec = pod_spec(workload)
    check(spec.get("securityContext", {}).get("runAsNonRoot") is True, f"{what}: pod runAsNonRoot is not true")
    check(not spec.get("hostPID") and not spec.get("hostIPC"), f"{what}: hostPID/hostIPC must be off")
    for c in spec["containers"]:
        sc = c.get("securityContext", {})
        check(sc.get("readOnlyRootFilesystem") is True, f"{what}/{c['name']}: readOnlyRootFilesystem is not true")
        check(sc.get("allowPrivilegeEscalation") is False, f"{what}/{c['name']}: allowPrivilegeEscalation is not false")
        check(not sc.get("privileged"), f"{what}/{c['name']}: privileged")
        check(sc.get("capabilities", {}).get("drop") == ["ALL"], f"{what}/{c['name']}: capabilities are not drop [ALL]")
        check(not sc.get("capabilities", {}).get("add"), f"{what}/{c['name']}: capabilities added")
        check("memory" in c.get("resources", {}).get("limits", {}), f"{what}/{c['name']}: no memory limit")
        check("requests" in c.get("resources", {}), f"{what}/{c['name']}: no resource requests")


def check_secret_refs(docs):
    """Every secretKeyRef names a Secret the release renders (with that key) or the existing one."""
    secrets = {d["metadata"]["name"]: d for d in of_kind(docs, "Secret")}
    for d in docs:
        if d["kind"] not in ("DaemonSet", "Deployment", "StatefulSet"):
            continue
        for c in pod_spec(d)["containers"]:
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if not ref:
                    continue
                where = f"{d['kind']} {d['metadata']['name']} env {e['name']}"
                if ref["name"] in secrets:
                    check(ref["key"] in secrets[ref["name"]].get("data", {}), f"{where}: Secret {ref['name']} has no key {ref['key']}")
                else:
                    check(ref["name"] == "oxmon-credentials", f"{where}: Secret {ref['name']} is not rendered")


# === the agent ===

HOST_MOUNTS = {"/proc": "/host/proc", "/sys": "/host/sys", "/": "/host/root"}


# The host's /var/log (the kubelet's log links name the pods' containers), unless
# the containers collector is off.
CONTAINER_MOUNTS = {"/var/log": "/host/var/log"}


def check_agent(docs, endpoint, containers=True):
    ds = one(docs, "DaemonSet", "agent")
    if not ds:
        return
    spec = pod_spec(ds)
    agent = container(ds, "agent")
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["name"]: m for m in agent["volumeMounts"]}
    host_mounts = dict(HOST_MOUNTS, **(CONTAINER_MOUNTS if containers else {}))
    for host_path, mount_path in host_mounts.items():
        names = [n for n, v in volumes.items() if v.get("hostPath", {}).get("path") == host_path]
        if not check(len(names) == 1, f"DaemonSet: no hostPath volume for host {host_path}"):
            continue
        m = mounts.get(names[0])
        if not check(m is not None, f"DaemonSet: host {host_path} is not mounted"):
            continue
        check(m["mountPath"] == mount_path, f"DaemonSet: host {host_path} is mounted at {m['mountPath']}, not {mount_path}")
        check(m.get("readOnly") is True, f"DaemonSet: host {host_path} is not mounted read-only")
        if host_path == "/":
            check(m.get("mountPropagation") == "HostToContainer", "DaemonSet: host / lacks mountPropagation HostToContainer")
    hostpaths = [v["hostPath"]["path"] for v in spec["volumes"] if "hostPath" in v]
    check(sorted(hostpaths) == sorted(host_mounts), f"DaemonSet: unexpected hostPath volumes {hostpaths}")
    check(spec.get("hostNetwork") is True, "DaemonSet: hostNetwork is not true")
    check(spec.get("dnsPolicy") == "ClusterFirstWithHostNet", "DaemonSet: dnsPolicy is not ClusterFirstWithHostNet")
    check({"operator": "Exists"} in spec.get("tolerations", []), "DaemonSet: does not tolerate every taint")
    check(spec.get("automountServiceAccountToken") is False, "DaemonSet: mounts a service account token")
    check("limits" in agent.get("resources", {}) and "cpu" in agent["resources"]["limits"], "DaemonSet: no CPU limit")
    check(not agent.get("ports"), "DaemonSet: the agent has no listener, yet ports are declared")
    env = env_of(agent)
    check(env_value(agent, "OXMON_AGENT_SERVER_ENDPOINT") == endpoint,
          f"DaemonSet: OXMON_AGENT_SERVER_ENDPOINT is {env_value(agent, 'OXMON_AGENT_SERVER_ENDPOINT')}, not {endpoint}")
    check(env.get("OXMON_AGENT_AGENT_ID", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "spec.nodeName",
          "DaemonSet: OXMON_AGENT_AGENT_ID does not come from spec.nodeName")
    check(env.get("OXMON_AGENT_AUTH_TOKEN", {}).get("valueFrom", {}).get("secretKeyRef", {}).get("key") == "agent-token",
          "DaemonSet: OXMON_AGENT_AUTH_TOKEN is not the Secret's agent-token")
    for key, path in (("PROCFS", "/host/proc"), ("SYSFS", "/host/sys"), ("ROOTFS", "/host/root")):
        check(env_value(agent, f"OXMON_AGENT_{key}_PATH") == path, f"DaemonSet: OXMON_AGENT_{key}_PATH is not {path}")
    log_path = env_value(agent, "OXMON_AGENT_CONTAINER_LOG_PATH")
    if containers:
        check(log_path == "/host/var/log", f"DaemonSet: OXMON_AGENT_CONTAINER_LOG_PATH is {log_path}, not /host/var/log")
    else:
        check(log_path is None, "DaemonSet: containers are off, yet OXMON_AGENT_CONTAINER_LOG_PATH is set")
    return ds


# === the server ===


def check_server(docs, require_auth, persistence=True):
    sts = one(docs, "StatefulSet", "server")
    if not sts:
        return
    spec = pod_spec(sts)
    server = container(sts, "server")
    check(sts["spec"]["replicas"] == 1, "StatefulSet: the server must run exactly one replica")
    check(spec["securityContext"].get("fsGroup") is not None, "StatefulSet: no fsGroup")
    check(server["livenessProbe"]["httpGet"]["path"] == "/healthz", "StatefulSet: liveness probe is not /healthz")
    check(server["readinessProbe"]["httpGet"]["path"] == "/readyz", "StatefulSet: readiness probe is not /readyz")
    ports = {p["name"]: p["containerPort"] for p in server["ports"]}
    check(ports == {"grpc": 9090, "http": 8080}, f"StatefulSet: container ports {ports}")
    check(env_value(server, "OXMON_SERVER_DATA_DIR") == "/var/lib/oxmon", "StatefulSet: data_dir is not /var/lib/oxmon")
    check(env_value(server, "OXMON_SERVER_REQUIRE_AGENT_AUTH") == ("true" if require_auth else "false"),
          f"StatefulSet: OXMON_SERVER_REQUIRE_AGENT_AUTH is not {require_auth}")
    env = env_of(server)
    for name, key in (
        ("OXMON_SERVER_AUTH__JWT_SECRET", "jwt-secret"),
        ("OXMON_SERVER_AUTH__DEFAULT_PASSWORD", "admin-password"),
        ("OXMON_SERVER_AGENT_SHARED_TOKEN", "agent-token"),
    ):
        check(env.get(name, {}).get("valueFrom", {}).get("secretKeyRef", {}).get("key") == key, f"StatefulSet: {name} is not the Secret's {key}")
    data_mounts = [m for m in server["volumeMounts"] if m["mountPath"] == "/var/lib/oxmon"]
    check(len(data_mounts) == 1, "StatefulSet: nothing mounted at /var/lib/oxmon")
    claims = [t["metadata"]["name"] for t in sts["spec"].get("volumeClaimTemplates", [])]
    if persistence:
        check(data_mounts and claims == [data_mounts[0]["name"]], f"StatefulSet: the data dir is not a volumeClaimTemplate ({claims})")
    else:
        check(not claims, "StatefulSet: persistence off, yet volumeClaimTemplates")
    services = {s["metadata"]["labels"].get("oxmon.io/service"): s for s in of_kind(docs, "Service")}
    check(set(services) == {"http", "grpc", "headless"}, f"Services: expected http, grpc and headless, found {sorted(services)}")
    check(sts["spec"]["serviceName"] == services.get("headless", {}).get("metadata", {}).get("name"), "StatefulSet: serviceName is not the headless Service")
    selector = sts["spec"]["selector"]["matchLabels"]
    for s in services.values():
        check(s["spec"]["selector"] == selector, f"Service {s['metadata']['name']}: does not select the server pods")
    test = [d for d in of_kind(docs, "Pod") if d["metadata"].get("annotations", {}).get("helm.sh/hook") == "test"]
    check(len(test) == 1, "no helm test Pod")
    if test and "http" in services:
        http = services["http"]
        url = f"http://{http['metadata']['name']}.{NAMESPACE}.svc:{http['spec']['ports'][0]['port']}/readyz"
        check(url in "\n".join(test[0]["spec"]["containers"][0]["command"]), f"helm test Pod does not check {url}")
    return services


# === the operator ===

CR_RESOURCES = ["alertrules", "notificationchannels", "silencewindows"]
EXPECTED_RULES = sorted(
    [
        (("oxmon.io",), tuple(CR_RESOURCES), ("get", "list", "watch", "patch", "update")),
        (("oxmon.io",), tuple(r + "/status" for r in CR_RESOURCES), ("get", "patch", "update")),
        (("oxmon.io",), tuple(r + "/finalizers" for r in CR_RESOURCES), ("update",)),
        (("",), ("secrets",), ("get", "list", "watch")),
        (("",), ("events",), ("create", "patch")),
        (("events.k8s.io",), ("events",), ("create", "patch")),
    ]
)


def rules_of(role):
    return sorted((tuple(r["apiGroups"]), tuple(r["resources"]), tuple(r["verbs"])) for r in role["rules"])


def check_operator(docs, server_url, watch_namespace=""):
    dep = one(docs, "Deployment", "operator")
    if not dep:
        return
    op = container(dep, "operator")
    check(env_value(op, "OXMON_OPERATOR_SERVER_URL") == server_url,
          f"Deployment: OXMON_OPERATOR_SERVER_URL is {env_value(op, 'OXMON_OPERATOR_SERVER_URL')}, not {server_url}")
    check(env_value(op, "OXMON_OPERATOR_NAMESPACE") == watch_namespace, f"Deployment: OXMON_OPERATOR_NAMESPACE is not {watch_namespace!r}")
    env = env_of(op)
    check(env.get("OXMON_OPERATOR_TOKEN", {}).get("valueFrom", {}).get("secretKeyRef", {}).get("key") == "operator-token",
          "Deployment: OXMON_OPERATOR_TOKEN is not the Secret's operator-token")
    for name, path in (("POD_NAME", "metadata.name"), ("POD_NAMESPACE", "metadata.namespace")):
        check(env.get(name, {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == path, f"Deployment: {name} is not {path}")
    check(op["livenessProbe"]["httpGet"]["path"] == "/healthz" and op["readinessProbe"]["httpGet"]["path"] == "/readyz",
          "Deployment: operator probes are not /healthz and /readyz")
    sa = pod_spec(dep)["serviceAccountName"]
    check(any(s["metadata"]["name"] == sa for s in of_kind(docs, "ServiceAccount")), f"Deployment: ServiceAccount {sa} is not rendered")

    role_kind = "Role" if watch_namespace else "ClusterRole"
    for d in docs:
        for rule in d.get("rules", []) if d["kind"] in ("Role", "ClusterRole") else []:
            for field in ("apiGroups", "resources", "verbs"):
                check("*" not in rule[field], f"{d['kind']} {d['metadata']['name']}: wildcard in {field}")
    check(not (watch_namespace and of_kind(docs, "ClusterRole")), "one watched namespace, yet a ClusterRole")
    main = [d for d in of_kind(docs, role_kind) if not d["metadata"]["name"].endswith("-leader-election")]
    if check(len(main) == 1, f"expected one {role_kind} for the custom resources, found {len(main)}"):
        check(rules_of(main[0]) == EXPECTED_RULES, f"{role_kind} rules differ from the least-privilege set: {rules_of(main[0])}")
        if watch_namespace:
            check(main[0]["metadata"].get("namespace") == watch_namespace, f"Role is not in the watched namespace {watch_namespace}")
        check_bound(docs, main[0], sa)
    lease = [d for d in of_kind(docs, "Role") if d["metadata"]["name"].endswith("-leader-election")]
    if check(len(lease) == 1, "no leader-election Role"):
        check(lease[0]["metadata"]["namespace"] == NAMESPACE, "leader-election Role is not in the release namespace")
        check(rules_of(lease[0]) == [(("coordination.k8s.io",), ("leases",), ("get", "create", "update", "patch"))],
              f"leader-election Role rules: {rules_of(lease[0])}")
        check_bound(docs, lease[0], sa)


def check_bound(docs, role, sa):
    bindings = [
        b
        for b in of_kind(docs, role["kind"] + "Binding")
        if b["roleRef"]["kind"] == role["kind"] and b["roleRef"]["name"] == role["metadata"]["name"]
    ]
    ok = any(
        s["kind"] == "ServiceAccount" and s["name"] == sa and s["namespace"] == NAMESPACE
        for b in bindings
        for s in b["subjects"]
    )
    check(ok, f"{role['kind']} {role['metadata']['name']} is not bound to ServiceAccount {sa}")


# === scenarios ===


def scenario_default(docs):
    services = check_server(docs, require_auth=True)
    grpc = services["grpc"] if services and "grpc" in services else None
    if grpc:
        check_agent(docs, f"{grpc['metadata']['name']}.{NAMESPACE}.svc:{grpc['spec']['ports'][0]['port']}")
        http = services["http"]
        check_operator(docs, f"http://{http['metadata']['name']}.{NAMESPACE}.svc:{http['spec']['ports'][0]['port']}")
        check(http["metadata"]["name"] == f"{RELEASE}-oxmon-server", "the HTTP Service is not <release>-oxmon-server")
    secrets = of_kind(docs, "Secret")
    if check(len(secrets) == 1, "expected one generated Secret"):
        s = secrets[0]
        check(sorted(s["data"]) == ["admin-password", "agent-token", "jwt-secret", "operator-token"], f"Secret keys: {sorted(s['data'])}")
        check(s["metadata"].get("annotations", {}).get("helm.sh/resource-policy") == "keep", "Secret is not kept on uninstall")
    check(not of_kind(docs, "ServiceMonitor") and not of_kind(docs, "PodDisruptionBudget"), "optional objects rendered by default")


def scenario_all_features(docs):
    services = check_server(docs, require_auth=True)
    check_agent(docs, f"oxmon-ci-server-grpc.{NAMESPACE}.svc:9443")
    check_operator(docs, f"http://oxmon-ci-server.{NAMESPACE}.svc:80")
    sts = one(docs, "StatefulSet", "server")
    server = container(sts, "server")
    check(server.get("args") == ["/etc/oxmon/server.toml"], "StatefulSet: server.config is not passed as the config file")
    check(any(m["mountPath"] == "/etc/oxmon/tls" for m in server["volumeMounts"]), "StatefulSet: TLS secret not mounted")
    check(env_value(server, "OXMON_SERVER_TLS__CERT_FILE") == "/etc/oxmon/tls/tls.crt", "StatefulSet: TLS cert_file not set")
    check(server["image"].endswith("@sha256:" + "0123456789abcdef" * 4), "StatefulSet: image digest not used")
    cm = one(docs, "ConfigMap", "server")
    check(cm and "max_concurrent = 4" in cm["data"]["server.toml"], "ConfigMap: server.config not rendered")
    agent = container(one(docs, "DaemonSet", "agent"), "agent")
    check(env_value(agent, "OXMON_AGENT_TLS") == "true", "DaemonSet: TLS not on")
    check(env_value(agent, "OXMON_AGENT_TLS_SERVER_NAME") == "oxmon.example.internal", "DaemonSet: TLS server name not set")
    for name, value in (("DISABLED_COLLECTORS", "sensors,tcp"), ("CONTAINER_EXCLUDE_NAMESPACES", "kube-system,kube-public"),
                        ("MAX_CONTAINERS", "100")):
        got = env_value(agent, f"OXMON_AGENT_{name}")
        check(got == value, f"DaemonSet: OXMON_AGENT_{name} is {got}, not {value}")
    check(env_value(agent, "OXMON_AGENT_CONTAINER_INCLUDE_NAMESPACES") is None, "DaemonSet: an empty include list is rendered")
    sm = one(docs, "ServiceMonitor")
    if sm and services:
        labels = services["http"]["metadata"]["labels"]
        check(all(labels.get(k) == v for k, v in sm["spec"]["selector"]["matchLabels"].items()), "ServiceMonitor does not select the HTTP Service")
        check(not all(services["grpc"]["metadata"]["labels"].get(k) == v for k, v in sm["spec"]["selector"]["matchLabels"].items()),
              "ServiceMonitor also selects the gRPC Service")
        check(sm["spec"]["endpoints"][0]["path"] == "/metrics", "ServiceMonitor path is not /metrics")
    check(len(of_kind(docs, "PodDisruptionBudget")) == 2, "expected PodDisruptionBudgets for server and operator")
    for d in docs:
        if d["kind"] != "CustomResourceDefinition":
            check(d["metadata"]["labels"].get("team") == "observability", f"{d['kind']} {d['metadata']['name']}: commonLabels missing")


def scenario_one_namespace(docs):
    services = check_server(docs, require_auth=False, persistence=False)
    if services:
        http = services["http"]
        check_operator(docs, f"http://{http['metadata']['name']}.{NAMESPACE}.svc:8080", watch_namespace="team-a")
    check(not of_kind(docs, "Secret"), "auth.existingSecret is set, yet a Secret is rendered")


def scenario_agents_only(docs):
    check(not of_kind(docs, "StatefulSet") and not of_kind(docs, "Service"), "server.enabled=false, yet server objects are rendered")
    check_agent(docs, "oxmon.example.internal:9090", containers=False)
    check_operator(docs, "https://oxmon.example.internal")
    agent = container(one(docs, "DaemonSet", "agent"), "agent")
    check(env_value(agent, "OXMON_AGENT_TLS_SERVER_NAME") == "oxmon.example.internal", "DaemonSet: TLS server name is not the endpoint's host")


SCENARIOS = {
    "default": scenario_default,
    "all-features-values": scenario_all_features,
    "one-namespace-values": scenario_one_namespace,
    "agents-only-values": scenario_agents_only,
}


def rendered(scenario, manifests, chart_dir):
    if scenario not in SCENARIOS:
        print(f"no assertions for scenario {scenario}: add it to SCENARIOS in {__file__}")
        return 1
    with open(os.path.join(chart_dir, "Chart.yaml")) as f:
        chart = yaml.safe_load(f)
    docs = load(manifests)
    try:
        check_common(docs, chart)
        SCENARIOS[scenario](docs)
    except (KeyError, TypeError, IndexError) as e:
        failures.append(f"unexpected shape of the rendered manifests: {type(e).__name__}: {e}")
    for f in failures:
        print(f"  {scenario}: {f}")
    return 1 if failures else 0


# === CRD schemas for the examples ===


def strict(schema):
    """The structural schema as JSON Schema, with unknown fields rejected as `kubectl apply` does."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict(v) for k, v in schema.items()}
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"]
    if out.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def crd_schemas(crds_dir, examples_dir, out_dir):
    kinds = {}
    for name in sorted(os.listdir(crds_dir)):
        if not name.endswith((".yaml", ".yml")):
            continue
        for crd in load(os.path.join(crds_dir, name)):
            if crd.get("kind") != "CustomResourceDefinition":
                continue
            group = crd["spec"]["group"]
            kind = crd["spec"]["names"]["kind"]
            for v in crd["spec"]["versions"]:
                schema = strict(v["schema"]["openAPIV3Schema"])
                # apiVersion, kind and metadata are the API server's to check.
                props = schema.setdefault("properties", {})
                props["apiVersion"] = {"const": f"{group}/{v['name']}"}
                props["kind"] = {"const": kind}
                props["metadata"] = {"type": "object"}
                schema["$schema"] = "http://json-schema.org/draft-07/schema#"
                kinds[(f"{group}/{v['name']}", kind)] = schema
    if not kinds:
        print(f"ERROR: no CustomResourceDefinition in {crds_dir}", file=sys.stderr)
        return 1
    count = 0
    errors = 0
    for name in sorted(os.listdir(examples_dir)):
        if not name.endswith((".yaml", ".yml", ".json")):
            continue
        path = os.path.join(examples_dir, name)
        for n, doc in enumerate(load(path)):
            key = (doc.get("apiVersion"), doc.get("kind"))
            if key not in kinds:
                print(f"ERROR: {path} document {n + 1}: no CRD in {crds_dir} defines {key[1]} {key[0]}", file=sys.stderr)
                errors += 1
                continue
            count += 1
            stem = f"{count:03}-{doc['kind']}-{key[0].replace('/', '_')}"
            schema_path = os.path.join(out_dir, stem + ".schema.json")
            instance_path = os.path.join(out_dir, stem + ".json")
            with open(schema_path, "w") as f:
                json.dump(kinds[key], f)
            with open(instance_path, "w") as f:
                json.dump(doc, f)
            print(schema_path, instance_path, f"{path}#{n + 1}")
    if count == 0:
        print(f"ERROR: no custom resource in {examples_dir}", file=sys.stderr)
        return 1
    return 1 if errors else 0


def main(argv):
    if len(argv) == 5 and argv[1] == "rendered":
        return rendered(argv[2], argv[3], argv[4])
    if len(argv) == 5 and argv[1] == "crd-schemas":
        return crd_schemas(argv[2], argv[3], argv[4])
    print(__doc__, file=sys.stderr)
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv))
