#!/usr/bin/env python3
"""Produce data/openapi-v2.json, the OpenAPI (swagger 2.0) document skiff serves.

Usage:
  python3 scripts/gen-openapi.py <upstream-openapi-v2.json> data/openapi-v2.json \
      [--v132-protobuf <kubernetes-protobuf-v1.32.json>]

The input is the upstream Kubernetes swagger document, which is newer than the v1.32 API
skiff reproduces. The output keeps only what skiff serves:
  * paths of the group-versions in SERVED_GVS, minus resources/operations v1.32 lacks;
  * definitions reachable from those paths (plus every io.k8s.apimachinery meta type);
  * shared #/parameters entries still referenced;
  * every x-kubernetes-* extension, parameter and response, unchanged.
Every `description` is dropped: upstream prose is not committed to skiff.

Telling v1.32 apart: the v1.32 protobuf wire table lists every v1.32 message and field.
A kind without a message there did not exist in v1.32 (e.g. networking/v1 ServiceCIDR),
and a property without a field there was added later (e.g. DeploymentStatus
.terminatingReplicas). If --v132-protobuf is not given, the table is looked for next to
the input file; without it only the fixed rules below apply.
Output is minified with sorted keys, so reruns are byte-identical.
"""
import argparse
import json
import os
import sys

SERVED_GVS = [
    ("", "v1"),
    ("apps", "v1"),
    ("batch", "v1"),
    ("autoscaling", "v1"),
    ("autoscaling", "v2"),
    ("coordination.k8s.io", "v1"),
    ("discovery.k8s.io", "v1"),
    ("events.k8s.io", "v1"),
    ("scheduling.k8s.io", "v1"),
    ("storage.k8s.io", "v1"),
    ("policy", "v1"),
    ("networking.k8s.io", "v1"),
    ("rbac.authorization.k8s.io", "v1"),
    ("authorization.k8s.io", "v1"),
    ("authentication.k8s.io", "v1"),
    ("apiregistration.k8s.io", "v1"),
    ("apiextensions.k8s.io", "v1"),
    ("certificates.k8s.io", "v1"),
]

# Query parameters that appeared after v1.32 (list sharding).
POST_132_QUERY_PARAMS = {"shardSelector"}
# Media types v1.32 does not offer by default (CBOR was alpha, gated off) and skiff never speaks.
UNSERVED_MEDIA_TYPES = {"application/cbor", "application/cbor-seq", "application/apply-patch+cbor"}
META_PREFIX = "io.k8s.apimachinery."
# Properties every kind has that protobuf carries outside the message (runtime.Unknown).
TYPE_META = {"apiVersion", "kind"}


def gv_prefix(group, version):
    return f"/api/{version}/" if group == "" else f"/apis/{group}/{version}/"


def strip_descriptions(node, in_properties=False):
    """Drops every `description` keyword, but not properties that are *named* description
    (scheduling.k8s.io PriorityClass has one)."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "description" and not in_properties:
                continue
            out[k] = strip_descriptions(v, in_properties=(k == "properties" and not in_properties))
        return out
    if isinstance(node, list):
        return [strip_descriptions(x) for x in node]
    return node


def collect_refs(node, acc):
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            acc.add(ref)
        for v in node.values():
            collect_refs(v, acc)
    elif isinstance(node, list):
        for v in node:
            collect_refs(v, acc)


class V132Fields:
    """Field names per definition in v1.32, from the protobuf wire table."""

    def __init__(self, table):
        self.messages = {}
        for name, fields in table["messages"].items():
            if name.startswith("k8s.io."):
                self.messages["io.k8s." + name[len("k8s.io."):]] = fields
        self.by_proto = table["messages"]

    def known(self, definition):
        return definition in self.messages

    def allowed(self, definition, openapi_props):
        """Lower-cased JSON names of the definition's v1.32 fields. Embedded Go structs are
        one proto field (e.g. Probe.handler) whose fields JSON inlines, so those are
        expanded; JSON names are compared case-insensitively because the table spells a few
        differently (BoundObjectReference uID vs uid)."""
        props_lc = {p.lower() for p in openapi_props}
        out = set()

        def walk(fields, depth):
            for f in fields:
                name = f["name"].lower()
                if name in props_lc or depth > 3:
                    out.add(name)
                    continue
                sub = self.by_proto.get(f["type"])
                if sub is not None:
                    walk(sub, depth + 1)  # an embedded struct: its fields are inlined in JSON
                else:
                    out.add(name)

        walk(self.messages[definition], 0)
        return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("upstream")
    ap.add_argument("output")
    ap.add_argument("--v132-protobuf", help="kubernetes-protobuf-v1.32.json (v1.32 field table)")
    args = ap.parse_args()

    with open(args.upstream) as f:
        doc = json.load(f)

    proto_path = args.v132_protobuf or os.path.join(
        os.path.dirname(os.path.abspath(args.upstream)), "kubernetes-protobuf-v1.32.json")
    v132 = None
    if os.path.exists(proto_path):
        with open(proto_path) as f:
            v132 = V132Fields(json.load(f))
    else:
        print(f"warning: {proto_path} not found; post-1.32 kinds/fields are kept", file=sys.stderr)

    definitions = doc["definitions"]
    shared_params = doc.get("parameters", {})

    # Kinds are found by their x-kubernetes-group-version-kind; a kind whose definition has
    # no v1.32 message is newer than v1.32.
    gvk_def = {}
    for name, schema in definitions.items():
        for gvk in schema.get("x-kubernetes-group-version-kind", []):
            gvk_def[(gvk["group"], gvk["version"], gvk["kind"])] = name

    def post_132(gvk):
        if v132 is None or gvk is None:
            return False
        name = gvk_def.get((gvk["group"], gvk["version"], gvk["kind"]))
        return name is not None and name.startswith("io.k8s.api.") and not v132.known(name)

    def resolve_param(p):
        ref = p.get("$ref")
        return shared_params[ref.split("/")[-1]] if ref else p

    def keep_param(p):
        q = resolve_param(p)
        return not (q.get("in") == "query" and q.get("name") in POST_132_QUERY_PARAMS)

    def clean_media(op, key):
        if key in op:
            op[key] = [m for m in op[key] if m not in UNSERVED_MEDIA_TYPES]

    prefixes = [gv_prefix(g, v) for g, v in SERVED_GVS]
    paths = {}
    dropped_paths = []
    for path, item in doc["paths"].items():
        if not any(path.startswith(p) for p in prefixes):
            continue
        new_item = {}
        for method, op in item.items():
            if method == "parameters":
                new_item[method] = [p for p in op if keep_param(p)]
                continue
            if post_132(op.get("x-kubernetes-group-version-kind")):
                continue
            op = dict(op)
            if "parameters" in op:
                op["parameters"] = [p for p in op["parameters"] if keep_param(p)]
            clean_media(op, "consumes")
            clean_media(op, "produces")
            new_item[method] = op
        if any(k != "parameters" for k in new_item):
            paths[path] = new_item
        else:
            dropped_paths.append(path)

    # Shared kinds (DeleteOptions, WatchEvent) list every group-version upstream ever had in
    # x-kubernetes-group-version-kind; keep only the ones skiff serves.
    served = set(SERVED_GVS)

    # Prune properties added after v1.32 (and their `required` entries).
    defs = {}
    pruned_props = []
    for name, schema in definitions.items():
        schema = dict(schema)
        if "x-kubernetes-group-version-kind" in schema:
            schema["x-kubernetes-group-version-kind"] = [
                g for g in schema["x-kubernetes-group-version-kind"]
                if (g["group"], g["version"]) in served]
            if not schema["x-kubernetes-group-version-kind"]:
                del schema["x-kubernetes-group-version-kind"]
        props = schema.get("properties")
        if v132 is not None and props and v132.known(name):
            allowed = v132.allowed(name, props)
            keep = {k: v for k, v in props.items() if k in TYPE_META or k.lower() in allowed}
            for k in props:
                if k not in keep:
                    pruned_props.append(f"{name}.{k}")
            schema["properties"] = keep
            if "required" in schema:
                schema["required"] = [r for r in schema["required"] if r in keep]
                if not schema["required"]:
                    del schema["required"]
        defs[name] = schema

    # Reachability over definitions and shared parameters from the kept paths.
    refs = set()
    collect_refs(paths, refs)
    kept_defs, kept_params = set(), set()
    # Meta types are kept whole (skiff's generic machinery uses them), but only v1.32 ones.
    meta = [n for n in defs if n.startswith(META_PREFIX) and (v132 is None or v132.known(n))]
    pending = list(refs) + ["#/definitions/" + n for n in meta]
    while pending:
        ref = pending.pop()
        kind, _, name = ref.lstrip("#/").partition("/")
        if kind == "definitions":
            if name in kept_defs or name not in defs:
                continue
            kept_defs.add(name)
            sub = set()
            collect_refs(defs[name], sub)
            pending.extend(sub)
        elif kind == "parameters":
            if name in kept_params:
                continue
            kept_params.add(name)
            sub = set()
            collect_refs(shared_params[name], sub)
            pending.extend(sub)

    # Sanity: nothing kept may point at a definition that is gone.
    missing = set()
    out_defs = {n: defs[n] for n in sorted(kept_defs)}
    all_refs = set()
    collect_refs(out_defs, all_refs)
    collect_refs(paths, all_refs)
    for r in all_refs:
        if r.startswith("#/definitions/") and r.split("/", 2)[2] not in out_defs:
            missing.add(r)
    if missing:
        sys.exit(f"dangling refs: {sorted(missing)}")
    if v132 is not None:
        newer = [n for n in out_defs if n.startswith("io.k8s.api.") and not v132.known(n)]
        if newer:
            print(f"warning: kept definitions without a v1.32 message: {newer}", file=sys.stderr)

    out = {
        "swagger": doc.get("swagger", "2.0"),
        "info": doc.get("info", {"title": "Kubernetes", "version": "unversioned"}),
        "paths": paths,
        "definitions": out_defs,
        "parameters": {n: shared_params[n] for n in sorted(kept_params)},
    }
    for key in ("securityDefinitions", "security"):
        if key in doc:
            out[key] = doc[key]
    out = strip_descriptions(out)

    with open(args.output, "w") as f:
        json.dump(out, f, separators=(",", ":"), sort_keys=True)
        f.write("\n")

    print(f"paths {len(paths)} (dropped as post-1.32: {len(dropped_paths)}), "
          f"definitions {len(out_defs)}, parameters {len(kept_params)}, "
          f"pruned post-1.32 properties {len(pruned_props)}, "
          f"bytes {os.path.getsize(args.output)}", file=sys.stderr)
    if os.environ.get("GEN_OPENAPI_VERBOSE"):
        for p in dropped_paths:
            print("  dropped path", p, file=sys.stderr)
        for p in pruned_props:
            print("  pruned", p, file=sys.stderr)


if __name__ == "__main__":
    main()
