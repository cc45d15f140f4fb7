#!/usr/bin/env python3
"""Turns the upstream Kubernetes protobuf wire-schema table into data/protobuf-schema.json.

Usage: python3 scripts/gen-protobuf-schema.py <kubernetes-protobuf-v1.32.json> data/protobuf-schema.json

The output is what src/api/protobuf_codec.cpp loads (minified, prose dropped, message
references interned as indexes so the file stays small and loading needs no name lookups):

  {"v": 2,
   "messages": [["<full message name>", "<special>", [[number, "jsonName", type, flags], ...]],
                ...]}

special is "" or one of time, microtime, quantity, intorstring, rawextension, fieldsv1,
stringarray: messages whose JSON form is not a plain object.
type is a scalar name (string, bytes, bool, int32, int64) or the index of a message in
"messages". Fields are sorted by number. flags is a bit set:
  1 repeated
  2 inline      the Go field is embedded (`json:",inline"`): its message's fields appear
                directly in the parent JSON object instead of under jsonName
  4 keepZero    a Go pointer field where an explicit zero/false/"" differs from "unset"
                (e.g. spec.replicas: 0); the decoder keeps such zero values instead of
                dropping them like other wire zero values
  8 map         map<string, type>: repeated entries {1: key, 2: value}

The table's `name` is the proto field name, which equals the JSON name except for a few
upstream quirks (capitalised names, embedded structs); those are corrected here so the
C++ side never has to know about them.
"""
import json
import sys

SCALARS = {"string", "bytes", "bool", "int32", "int64"}

# Messages whose JSON form is not an object (the Go types marshal themselves).
SPECIAL = {
    "k8s.io.apimachinery.pkg.apis.meta.v1.Time": "time",
    "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime": "microtime",
    "k8s.io.apimachinery.pkg.api.resource.Quantity": "quantity",
    "k8s.io.apimachinery.pkg.api.resource.QuantityValue": "quantity",
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": "intorstring",
    "k8s.io.apimachinery.pkg.runtime.RawExtension": "rawextension",
    "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1": "fieldsv1",
}

# Embedded Go structs, keyed by (proto field name, short message type name). Checked against
# the upstream OpenAPI definitions: these are the fields whose names are not JSON properties.
INLINE = {
    ("localObjectReference", "LocalObjectReference"),
    ("volumeSource", "VolumeSource"),
    ("persistentVolumeSource", "PersistentVolumeSource"),
    ("ephemeralContainerCommon", "EphemeralContainerCommon"),
    ("handler", "ProbeHandler"),
    ("ingressRuleValue", "IngressRuleValue"),
    ("deviceConfiguration", "DeviceConfiguration"),
    ("ruleWithOperations", "RuleWithOperations"),
    ("rule", "Rule"),
}

# Proto names that differ from the JSON name other than by a capital first letter.
RENAME = {"uID": "uid", "aPIGroup": "apiGroup"}
# JSON names that really are capitalised upstream.
KEEP_CAPITAL = {("DaemonEndpoint", "Port")}

# Go pointer scalars where zero/false/"" means something different from "not set" (usually
# because the default is non-zero). Keyed by (short message name, JSON name); applies to
# every version of the message. Not exhaustive: the wire cannot tell a pointer set to zero
# from a plain field, so only fields where dropping the zero changes behaviour are listed.
KEEP_ZERO = {
    # apps
    ("DeploymentSpec", "replicas"), ("DeploymentSpec", "revisionHistoryLimit"),
    ("DeploymentSpec", "progressDeadlineSeconds"),
    ("ReplicaSetSpec", "replicas"), ("StatefulSetSpec", "replicas"),
    ("StatefulSetSpec", "revisionHistoryLimit"), ("DaemonSetSpec", "revisionHistoryLimit"),
    ("ReplicationControllerSpec", "replicas"),
    ("RollingUpdateStatefulSetStrategy", "partition"),
    # batch
    ("JobSpec", "parallelism"), ("JobSpec", "completions"), ("JobSpec", "backoffLimit"),
    ("JobSpec", "activeDeadlineSeconds"), ("JobSpec", "ttlSecondsAfterFinished"),
    ("JobSpec", "backoffLimitPerIndex"), ("JobSpec", "maxFailedIndexes"),
    ("JobSpec", "suspend"), ("JobSpec", "manualSelector"),
    ("CronJobSpec", "startingDeadlineSeconds"), ("CronJobSpec", "suspend"),
    ("CronJobSpec", "successfulJobsHistoryLimit"), ("CronJobSpec", "failedJobsHistoryLimit"),
    # pods
    ("PodSpec", "terminationGracePeriodSeconds"), ("PodSpec", "activeDeadlineSeconds"),
    ("PodSpec", "automountServiceAccountToken"), ("PodSpec", "enableServiceLinks"),
    ("PodSpec", "shareProcessNamespace"), ("PodSpec", "hostUsers"), ("PodSpec", "priority"),
    ("PodSpec", "setHostnameAsFQDN"),
    ("Probe", "terminationGracePeriodSeconds"),
    ("PodSecurityContext", "runAsUser"), ("PodSecurityContext", "runAsGroup"),
    ("PodSecurityContext", "runAsNonRoot"), ("PodSecurityContext", "fsGroup"),
    ("SecurityContext", "runAsUser"), ("SecurityContext", "runAsGroup"),
    ("SecurityContext", "runAsNonRoot"), ("SecurityContext", "privileged"),
    ("SecurityContext", "readOnlyRootFilesystem"),
    ("SecurityContext", "allowPrivilegeEscalation"),
    ("ServiceAccount", "automountServiceAccountToken"),
    # volumes and references
    ("ConfigMapVolumeSource", "defaultMode"), ("SecretVolumeSource", "defaultMode"),
    ("ProjectedVolumeSource", "defaultMode"), ("DownwardAPIVolumeSource", "defaultMode"),
    ("KeyToPath", "mode"), ("DownwardAPIVolumeFile", "mode"),
    ("ConfigMapVolumeSource", "optional"), ("SecretVolumeSource", "optional"),
    ("ConfigMapKeySelector", "optional"), ("SecretKeySelector", "optional"),
    ("ConfigMapEnvSource", "optional"), ("SecretEnvSource", "optional"),
    ("ConfigMapProjection", "optional"), ("SecretProjection", "optional"),
    ("ServiceAccountTokenProjection", "expirationSeconds"),
    ("PersistentVolumeClaimSpec", "storageClassName"),
    ("ConfigMap", "immutable"), ("Secret", "immutable"),
    # services
    ("ServiceSpec", "allocateLoadBalancerNodePorts"), ("ClientIPConfig", "timeoutSeconds"),
    # autoscaling, policy
    ("HorizontalPodAutoscalerSpec", "minReplicas"),
    ("HorizontalPodAutoscalerSpec", "targetCPUUtilizationPercentage"),
    ("HPAScalingRules", "stabilizationWindowSeconds"),
    # meta
    ("DeleteOptions", "gracePeriodSeconds"), ("DeleteOptions", "orphanDependents"),
    ("ObjectMeta", "deletionGracePeriodSeconds"),
    ("OwnerReference", "controller"), ("OwnerReference", "blockOwnerDeletion"),
    ("ListMeta", "remainingItemCount"),
    # authentication
    ("TokenRequestSpec", "expirationSeconds"),
}


def short(name):
    return name.rsplit(".", 1)[-1]


def json_name(message, field):
    name = field["name"]
    if name in RENAME:
        return RENAME[name]
    if name[:1].isupper() and (short(message), name) not in KEEP_CAPITAL:
        return name[0].lower() + name[1:]
    return name


def is_string_array(fields):
    # Go named slices (Verbs, ExtraValue) become a message holding one repeated field.
    return (len(fields) == 1 and fields[0]["name"] == "items" and fields[0].get("repeated")
            and fields[0]["type"] == "string")


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: gen-protobuf-schema.py <kubernetes-protobuf-v1.32.json> <out.json>")
    with open(sys.argv[1]) as f:
        table = json.load(f)["messages"]

    special = {}
    for name, fields in table.items():
        if name in SPECIAL:
            special[name] = SPECIAL[name]
        elif is_string_array(fields):
            special[name] = "stringarray"

    def check_type(t, where):
        if t in SCALARS or t in table:
            return
        if t.startswith("map<string,") and t.endswith(">"):
            return check_type(t[len("map<string,"):-1], where)
        sys.exit(f"unsupported type {t!r} in {where}")

    names = sorted(table)
    index = {name: i for i, name in enumerate(names)}

    def ref(t):
        return t if t in SCALARS else index[t]

    out = []
    used_keep_zero = set()
    for name in names:
        fields = []
        seen = set()
        for f in sorted(table[name], key=lambda f: f["n"]):
            if f["n"] in seen or not 0 < f["n"] < (1 << 29):
                sys.exit(f"bad or duplicate field number {f['n']} in {name}")
            seen.add(f["n"])
            check_type(f["type"], name)
            flags = 0
            if f.get("repeated"):
                flags |= 1
            if (f["name"], short(f["type"])) in INLINE:
                flags |= 2
            jname = json_name(name, f)
            if (short(name), jname) in KEEP_ZERO:
                flags |= 4
                used_keep_zero.add((short(name), jname))
            t = f["type"]
            if t.startswith("map<"):
                flags |= 8
                t = t[len("map<string,"):-1]
            fields.append([f["n"], jname, ref(t), flags])
        out.append([name, special.get(name, ""), fields])

    unused = KEEP_ZERO - used_keep_zero
    if unused:
        sys.exit(f"KEEP_ZERO entries match no field: {sorted(unused)}")

    doc = {"v": 2, "messages": out}
    with open(sys.argv[2], "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
