"""Custom resources through the official Python client (run by test_custom_resources.sh against
a server without nodes): ApiextensionsV1Api creates a CRD and reads it back into its typed
model (which fails on a status shape the model does not accept), CustomObjectsApi does CRUD,
merge and JSON patches, status and scale, and errors come back as ApiException with the
Status body."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kubernetes import client, config  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402

import check  # noqa: E402
from check import eq, ok  # noqa: E402

GROUP, VERSION, PLURAL = "py.example.com", "v1", "gizmos"


def crd():
    return client.V1CustomResourceDefinition(
        metadata=client.V1ObjectMeta(name=PLURAL + "." + GROUP),
        spec=client.V1CustomResourceDefinitionSpec(
            group=GROUP, scope="Namespaced",
            names=client.V1CustomResourceDefinitionNames(plural=PLURAL, kind="Gizmo"),
            versions=[client.V1CustomResourceDefinitionVersion(
                name=VERSION, served=True, storage=True,
                subresources=client.V1CustomResourceSubresources(
                    status={}, scale=client.V1CustomResourceSubresourceScale(
                        spec_replicas_path=".spec.replicas", status_replicas_path=".status.replicas")),
                schema=client.V1CustomResourceValidation(open_apiv3_schema=client.V1JSONSchemaProps(
                    type="object", properties={
                        "spec": client.V1JSONSchemaProps(type="object", properties={
                            "replicas": client.V1JSONSchemaProps(type="integer", minimum=0),
                            "mode": client.V1JSONSchemaProps(type="string", default="auto")}),
                        "status": client.V1JSONSchemaProps(type="object", properties={
                            "replicas": client.V1JSONSchemaProps(type="integer")})})))]))


def main():
    config.load_kube_config(sys.argv[1])
    ext = client.ApiextensionsV1Api()
    co = client.CustomObjectsApi()
    created = ext.create_custom_resource_definition(crd())
    eq(created.spec.names.list_kind, "GizmoList", "typed CRD answer with defaulted names")
    for _ in range(50):
        got = ext.read_custom_resource_definition(PLURAL + "." + GROUP)
        conds = {c.type: c.status for c in (got.status.conditions or [])}
        if conds.get("Established") == "True":
            break
        time.sleep(0.1)
    eq(conds.get("Established"), "True", "CRD status reads into V1CustomResourceDefinitionStatus")
    eq(got.status.stored_versions, ["v1"], "storedVersions")

    body = {"apiVersion": GROUP + "/" + VERSION, "kind": "Gizmo",
            "metadata": {"name": "g1"}, "spec": {"replicas": 1}}
    obj = co.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, body)
    eq(obj["spec"], {"replicas": 1, "mode": "auto"}, "create answers the defaulted object")
    items = co.list_namespaced_custom_object(GROUP, VERSION, "default", PLURAL)["items"]
    eq([i["metadata"]["name"] for i in items], ["g1"], "list")
    obj = co.patch_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "g1", {"spec": {"replicas": 2}})
    eq(obj["spec"]["replicas"], 2, "patch (the client sends a merge patch for a dict)")
    obj = co.patch_namespaced_custom_object_status(GROUP, VERSION, "default", PLURAL, "g1",
                                                   {"status": {"replicas": 2}})
    eq(obj["status"], {"replicas": 2}, "status patch")
    scale = co.get_namespaced_custom_object_scale(GROUP, VERSION, "default", PLURAL, "g1")
    eq((scale["spec"]["replicas"], scale["status"]["replicas"]), (2, 2), "scale subresource")
    co.patch_namespaced_custom_object_scale(GROUP, VERSION, "default", PLURAL, "g1", {"spec": {"replicas": 5}})
    eq(co.get_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "g1")["spec"]["replicas"], 5,
       "scale patch writes spec.replicas")
    try:
        co.patch_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "g1", {"spec": {"replicas": -1}})
        ok(False, "negative replicas refused")
    except ApiException as e:
        status = json.loads(e.body)
        eq((e.status, status["reason"], status["details"]["causes"][0]["field"]),
           (422, "Invalid", "spec.replicas"), "422 ApiException with the cause")
    co.delete_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "g1")
    try:
        co.get_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "g1")
        ok(False, "deleted object is gone")
    except ApiException as e:
        eq(e.status, 404, "deleted object is gone")
    ext.delete_custom_resource_definition(PLURAL + "." + GROUP)
    return 1 if check.FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
