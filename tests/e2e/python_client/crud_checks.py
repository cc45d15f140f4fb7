"""Create, read, list, replace, patch (strategic merge, merge, JSON patch) and delete for core
kinds and Deployments; label and field selectors; list paging; Status errors as ApiException."""
import base64
import json

from kubernetes import client

from check import api_error, contains, eq, is_gone, ok, wait_until

BUSYBOX = "busybox:1.36"


def b64(s):
    return base64.b64encode(s.encode()).decode()


def meta(name, labels=None):
    return client.V1ObjectMeta(name=name, labels=labels)


def merge_patch_api(api_class):
    # The 22.x client sends a dict body as a strategic merge patch and a list as a JSON patch;
    # it has no way to pick application/merge-patch+json per call. A default header overrides
    # the Content-Type of every request of its ApiClient, so merge patches get their own.
    api_client = client.ApiClient()
    api_client.set_default_header("Content-Type", "application/merge-patch+json")
    return api_class(api_client)


def run(ns):
    namespaces(ns)
    configmaps(ns)
    status_errors(ns)
    secrets(ns)
    services(ns)
    pods(ns)
    selectors_and_paging(ns)
    deployments(ns)


def namespaces(ns):
    v1 = client.CoreV1Api()
    created = v1.create_namespace(client.V1Namespace(metadata=meta(ns, {"suite": "python"})))
    eq(created.metadata.name, ns, "create a Namespace")
    eq(v1.read_namespace(ns).status.phase, "Active", "a new Namespace is Active")
    names = [n.metadata.name for n in v1.list_namespace(label_selector="suite=python").items]
    eq(names, [ns], "list Namespaces with a label selector")
    patched = v1.patch_namespace(ns, {"metadata": {"labels": {"team": "py"}}})
    eq((patched.metadata.labels.get("suite"), patched.metadata.labels.get("team")),
       ("python", "py"), "strategic merge patch adds a Namespace label and keeps the others")

    gone = ns + "-gone"
    v1.create_namespace(client.V1Namespace(metadata=meta(gone)))
    v1.delete_namespace(gone)
    wait_until("a deleted Namespace goes away", 60, lambda: is_gone(v1.read_namespace, gone))
    ok(True, "delete a Namespace: it is gone after its finalization")


def delete_namespace(ns):
    client.CoreV1Api().delete_namespace(ns)
    ok(True, "delete the test Namespace")


def configmaps(ns):
    v1 = client.CoreV1Api()
    cm = v1.create_namespaced_config_map(
        ns, client.V1ConfigMap(metadata=meta("cfg", {"app": "py"}), data={"a": "1"}))
    eq(cm.data, {"a": "1"}, "create a ConfigMap")
    ok(cm.metadata.uid and cm.metadata.resource_version and cm.metadata.creation_timestamp,
       "the created ConfigMap has uid, resourceVersion and creationTimestamp", cm.metadata)
    got = v1.read_namespaced_config_map("cfg", ns)
    eq(got.metadata.uid, cm.metadata.uid, "read a ConfigMap")

    got.data["b"] = "2"
    replaced = v1.replace_namespaced_config_map("cfg", ns, got)
    eq(replaced.data, {"a": "1", "b": "2"}, "replace a ConfigMap")
    ok(int(replaced.metadata.resource_version) > int(cm.metadata.resource_version),
       "replace moves the resourceVersion on")
    e, status = api_error(v1.replace_namespaced_config_map, "cfg", ns, got)  # got's RV is old
    eq((e.status, status["reason"], status["details"]["name"], status["details"]["kind"]),
       (409, "Conflict", "cfg", "configmaps"), "a replace with a stale resourceVersion is a 409 Conflict")
    contains(status["message"], "the object has been modified", "the Conflict says why")

    smp = v1.patch_namespaced_config_map("cfg", ns, {"data": {"c": "3"}})
    eq(smp.data, {"a": "1", "b": "2", "c": "3"}, "strategic merge patch (dict body) adds a key")
    mp = merge_patch_api(client.CoreV1Api).patch_namespaced_config_map(
        "cfg", ns, {"data": {"a": None}, "metadata": {"labels": {"merged": "yes"}}})
    eq(mp.data, {"b": "2", "c": "3"}, "merge patch removes a key set to null")
    eq(mp.metadata.labels, {"app": "py", "merged": "yes"}, "merge patch adds a label")
    jp = v1.patch_namespaced_config_map("cfg", ns, [
        {"op": "test", "path": "/data/b", "value": "2"},
        {"op": "replace", "path": "/data/b", "value": "two"},
        {"op": "remove", "path": "/data/c"},
    ])
    eq(jp.data, {"b": "two"}, "JSON patch (list body): test, replace, remove")
    e, status = api_error(v1.patch_namespaced_config_map, "cfg", ns,
                          [{"op": "test", "path": "/data/b", "value": "nope"}])
    eq((e.status, status["reason"]), (422, "Invalid"), "a failing JSON patch test op is a 422")

    # Upstream answers a ConfigMap's DELETE with a Status (its store does not return the
    # deleted object, unlike pods' or services').
    deleted = v1.delete_namespaced_config_map("cfg", ns, _preload_content=False)
    body = json.loads(deleted.data)
    eq((body.get("kind"), body.get("status"), body.get("details")),
       ("Status", "Success", {"name": "cfg", "kind": "configmaps", "uid": cm.metadata.uid}),
       "delete a ConfigMap: Status Success with the object's details")
    eq(api_error(v1.read_namespaced_config_map, "cfg", ns)[0].status, 404,
       "the deleted ConfigMap is gone")


def status_errors(ns):
    v1 = client.CoreV1Api()
    e, status = api_error(v1.read_namespaced_config_map, "missing", ns)
    eq((e.status, status["kind"], status["status"], status["reason"], status["code"]),
       (404, "Status", "Failure", "NotFound", 404), "404 is an ApiException with a NotFound Status")
    eq((status["details"]["name"], status["details"]["kind"]), ("missing", "configmaps"),
       "the NotFound Status names the object")
    eq(status["message"], 'configmaps "missing" not found', "the NotFound message is upstream's")

    v1.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=meta("dup")))
    e, status = api_error(v1.create_namespaced_config_map, ns,
                          client.V1ConfigMap(metadata=meta("dup")))
    eq((e.status, status["reason"], status["details"]["name"], status["details"]["kind"]),
       (409, "AlreadyExists", "dup", "configmaps"), "creating an existing name is a 409 AlreadyExists")

    e, status = api_error(v1.create_namespaced_config_map, ns,
                          client.V1ConfigMap(metadata=meta("Bad_Name")))
    eq((e.status, status["reason"], status["details"]["kind"], status["details"]["name"]),
       (422, "Invalid", "ConfigMap", "Bad_Name"), "an invalid name is a 422 Invalid")
    causes = status["details"].get("causes") or []
    ok(any(c.get("field") == "metadata.name" and c.get("reason") == "FieldValueInvalid"
           for c in causes), "the 422 names the field in its causes", causes)

    e, status = api_error(v1.list_namespaced_config_map, ns, field_selector="data.a=1")
    eq((e.status, status["reason"]), (400, "BadRequest"), "an unknown field selector is a 400")


def secrets(ns):
    v1 = client.CoreV1Api()
    s = v1.create_namespaced_secret(
        ns, client.V1Secret(metadata=meta("creds"), string_data={"user": "admin"}))
    eq(s.data, {"user": b64("admin")}, "a Secret's stringData is merged into data (base64)")
    eq(s.string_data, None, "stringData is not part of the answer")
    eq(s.type, "Opaque", "a Secret's type defaults to Opaque")
    got = v1.read_namespaced_secret("creds", ns)
    eq((got.data, got.string_data), ({"user": b64("admin")}, None), "read the Secret back")
    jp = v1.patch_namespaced_secret("creds", ns, [
        {"op": "add", "path": "/data/pass", "value": b64("pw")}])
    eq(jp.data, {"user": b64("admin"), "pass": b64("pw")}, "JSON patch adds a Secret key")
    v1.delete_namespaced_secret("creds", ns)
    eq(api_error(v1.read_namespaced_secret, "creds", ns)[0].status, 404, "delete a Secret")


def services(ns):
    v1 = client.CoreV1Api()
    svc = v1.create_namespaced_service(ns, client.V1Service(
        metadata=meta("websvc"),
        spec=client.V1ServiceSpec(selector={"app": "web"}, ports=[
            client.V1ServicePort(name="http", port=80, target_port=8080)])))
    ip = svc.spec.cluster_ip
    ok(ip and ip != "None", "a Service gets a cluster IP", ip)
    eq((svc.spec.type, svc.spec.ports[0].protocol, svc.spec.ports[0].target_port),
       ("ClusterIP", "TCP", 8080), "Service defaults (type, protocol) and an int targetPort")

    smp = v1.patch_namespaced_service("websvc", ns, {"spec": {"ports": [
        {"name": "metrics", "port": 9090, "targetPort": 9090}]}})
    eq(sorted(p.name for p in smp.spec.ports), ["http", "metrics"],
       "strategic merge patch merges Service ports by their port number")
    mp = merge_patch_api(client.CoreV1Api).patch_namespaced_service("websvc", ns, {"spec": {
        "ports": [{"name": "only", "port": 81, "targetPort": "http-alt"}]}})
    eq([(p.name, p.port, p.target_port) for p in mp.spec.ports], [("only", 81, "http-alt")],
       "merge patch replaces the whole ports list (a named targetPort stays a string)")
    jp = v1.patch_namespaced_service("websvc", ns, [
        {"op": "replace", "path": "/spec/selector", "value": {"app": "other"}}])
    eq(jp.spec.selector, {"app": "other"}, "JSON patch replaces the selector")
    eq(jp.spec.cluster_ip, ip, "patches keep the cluster IP")

    got = v1.read_namespaced_service("websvc", ns)
    got.metadata.labels = {"tier": "front"}
    replaced = v1.replace_namespaced_service("websvc", ns, got)
    eq((replaced.metadata.labels, replaced.spec.cluster_ip), ({"tier": "front"}, ip),
       "replace a Service")
    got.spec.cluster_ip = "10.43.99.99" if ip != "10.43.99.99" else "10.43.99.98"
    got.metadata.resource_version = replaced.metadata.resource_version
    e, status = api_error(v1.replace_namespaced_service, "websvc", ns, got)
    eq((e.status, status["reason"]), (422, "Invalid"), "a Service's cluster IP is immutable (422)")
    v1.delete_namespaced_service("websvc", ns)
    eq(api_error(v1.read_namespaced_service, "websvc", ns)[0].status, 404, "delete a Service")


def pod(name, command, labels, **spec):
    container = client.V1Container(name="main", image=BUSYBOX, command=command,
                                   stdin=spec.pop("stdin", None))
    return client.V1Pod(metadata=meta(name, labels), spec=client.V1PodSpec(
        containers=[container], termination_grace_period_seconds=1, **spec))


def pods(ns):
    """Creates the pods stream_checks uses (they start while the other checks run)."""
    v1 = client.CoreV1Api()
    web = v1.create_namespaced_pod(ns, pod("web", ["httpd", "-f", "-p", "8080"], {"app": "web"}))
    eq((web.status.phase, web.spec.restart_policy, web.spec.containers[0].image_pull_policy),
       ("Pending", "Always", "IfNotPresent"), "create a Pod: Pending, with defaults")
    v1.create_namespaced_pod(ns, pod("logger", ["sh", "-c",
                                                "echo first; echo second; i=0; "
                                                "while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"],
                                     {"app": "logger"}))
    # Reads lines from its stdin and answers each: a target for attach.
    v1.create_namespaced_pod(ns, pod("echoer", ["sh", "-c",
                                                "echo ready; while read l; do echo \"echo:$l\"; done"],
                                     {"app": "echoer"}, stdin=True))

    patched = merge_patch_api(client.CoreV1Api).patch_namespaced_pod(
        "web", ns, {"metadata": {"labels": {"stage": "test"}}})
    eq(patched.metadata.labels, {"app": "web", "stage": "test"}, "merge patch a Pod's labels")
    got = v1.read_namespaced_pod("web", ns)
    got.metadata.annotations = {"note": "replaced"}
    replaced = v1.replace_namespaced_pod("web", ns, got)
    eq(replaced.metadata.annotations, {"note": "replaced"}, "replace a Pod (annotations)")
    got = v1.read_namespaced_pod("web", ns)
    got.spec.containers[0].command = ["sleep", "1"]
    e, status = api_error(v1.replace_namespaced_pod, "web", ns, got)
    eq((e.status, status["reason"]), (422, "Invalid"), "a Pod's command is immutable (422)")
    contains(status["message"], "pod updates may not change fields other than",
             "the 422 is upstream's message")


def selectors_and_paging(ns):
    v1 = client.CoreV1Api()
    for i in range(5):
        v1.create_namespaced_config_map(ns, client.V1ConfigMap(
            metadata=meta("page-%d" % i, {"page": "yes", "parity": "even" if i % 2 == 0 else "odd"})))
    odd = v1.list_namespaced_config_map(ns, label_selector="page=yes,parity!=even")
    eq(sorted(c.metadata.name for c in odd.items), ["page-1", "page-3"], "label selector (= and !=)")
    setb = v1.list_namespaced_config_map(ns, label_selector="parity in (odd),page")
    eq(len(setb.items), 2, "set-based label selector (in, exists)")
    by_name = v1.list_namespaced_config_map(ns, field_selector="metadata.name=page-3")
    eq([c.metadata.name for c in by_name.items], ["page-3"], "field selector metadata.name")
    everywhere = v1.list_config_map_for_all_namespaces(label_selector="page=yes")
    eq(len(everywhere.items), 5, "list across all namespaces with a label selector")

    names, sizes, token = [], [], None
    while True:
        page = v1.list_namespaced_config_map(ns, label_selector="page=yes", limit=2,
                                             _continue=token)
        names += [c.metadata.name for c in page.items]
        sizes.append(len(page.items))
        token = page.metadata._continue
        if not token:
            break
    eq((sizes, names), ([2, 2, 1], ["page-%d" % i for i in range(5)]),
       "paging with limit and continue returns every item once, in order")
    first = v1.list_namespaced_config_map(ns, limit=1)
    ok(first.metadata._continue and first.metadata.remaining_item_count is not None
       and first.metadata.remaining_item_count >= 4,
       "an unfiltered first page counts the remaining items", first.metadata)
    e, status = api_error(v1.list_namespaced_config_map, ns, limit=2, _continue="garbage")
    eq((e.status, status["reason"]), (400, "BadRequest"), "a malformed continue token is a 400")


def deployments(ns):
    apps = client.AppsV1Api()
    v1 = client.CoreV1Api()
    labels = {"app": "dep"}
    d = apps.create_namespaced_deployment(ns, client.V1Deployment(
        metadata=meta("dep", labels),
        spec=client.V1DeploymentSpec(
            replicas=2, selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(metadata=meta(None, labels), spec=client.V1PodSpec(
                termination_grace_period_seconds=1,
                containers=[client.V1Container(name="main", image=BUSYBOX,
                                               command=["sleep", "3600"])])))))
    eq((d.spec.strategy.type, d.spec.revision_history_limit, d.spec.progress_deadline_seconds),
       ("RollingUpdate", 10, 600), "create a Deployment, with upstream's defaults")
    wait_until("the Deployment's 2 pods are ready", 90,
               lambda: apps.read_namespaced_deployment("dep", ns).status.ready_replicas == 2)
    ok(True, "the Deployment's pods run on the node")

    smp = apps.patch_namespaced_deployment("dep", ns, {"spec": {"template": {"spec": {
        "containers": [{"name": "main", "env": [{"name": "MODE", "value": "a"}]}]}}}})
    c = smp.spec.template.spec.containers
    eq((len(c), c[0].command, [(e.name, e.value) for e in c[0].env]),
       (1, ["sleep", "3600"], [("MODE", "a")]),
       "strategic merge patch merges containers by name")
    mp = merge_patch_api(client.AppsV1Api).patch_namespaced_deployment(
        "dep", ns, {"spec": {"replicas": 1}})
    eq(mp.spec.replicas, 1, "merge patch scales the Deployment")
    jp = apps.patch_namespaced_deployment("dep", ns, [
        {"op": "add", "path": "/spec/template/metadata/annotations", "value": {"rev": "json"}}])
    eq(jp.spec.template.metadata.annotations, {"rev": "json"}, "JSON patch on the template")
    ok(jp.metadata.generation >= 3, "each spec change moves the generation", jp.metadata.generation)
    eq(apps.read_namespaced_deployment_scale("dep", ns).spec.replicas, 1, "read the scale subresource")

    def rolled_out():
        cur = apps.read_namespaced_deployment("dep", ns)
        st = cur.status
        return (st.observed_generation == cur.metadata.generation and st.updated_replicas == 1
                and st.ready_replicas == 1 and st.replicas == 1)
    wait_until("the Deployment rolls out to 1 updated ready replica", 90, rolled_out)
    pods_now = v1.list_namespaced_pod(ns, label_selector="app=dep").items
    live = [p for p in pods_now if not p.metadata.deletion_timestamp]
    ok(len(live) == 1 and [e.name for e in live[0].spec.containers[0].env] == ["MODE"],
       "the rolled-out pod has the patched template", [p.metadata.name for p in live])
    rs = apps.list_namespaced_replica_set(ns, label_selector="app=dep").items
    ok(len(rs) >= 3, "each template change made a ReplicaSet", len(rs))

    cur = apps.read_namespaced_deployment("dep", ns)
    cur.spec.replicas = 0
    eq(apps.replace_namespaced_deployment("dep", ns, cur).spec.replicas, 0, "replace a Deployment")
    apps.delete_namespaced_deployment("dep", ns, propagation_policy="Foreground")
    wait_until("the Deployment is deleted with its ReplicaSets", 60,
               lambda: is_gone(apps.read_namespaced_deployment, "dep", ns) and not apps.list_namespaced_replica_set(ns, label_selector="app=dep").items)
    ok(True, "delete a Deployment in the foreground: its ReplicaSets go first")
