#!/usr/bin/env python3
"""A tiny extension API server for tests/e2e/test_aggregation.sh: serves the group-version
wardle.example.com/v1alpha1 with one namespaced resource, flunders, over HTTPS (Python 3
stdlib only), the way an aggregated API server answers the kube-apiserver's proxy:

  GET  /apis, /apis/wardle.example.com, /apis/wardle.example.com/v1alpha1   discovery
  GET  /openapi/v3/apis/wardle.example.com/v1alpha1                         OpenAPI v3
  GET  .../flunders, .../namespaces/NS/flunders[/NAME]                       list / get
  GET  ...flunders?watch=true[&timeoutSeconds=N]                             watch (chunked)
  POST .../namespaces/NS/flunders                                            create
  DELETE .../namespaces/NS/flunders/NAME                                     delete

Lists and gets answer a meta.k8s.io/v1 Table when the Accept header asks for one (kubectl
get). Each created object records the identity the aggregator forwarded (X-Remote-User and
X-Remote-Group) in annotations, so the test can see it. Objects live in memory.

Usage: wardle_server.py CERT KEY PORT_FILE   (binds 127.0.0.1 on a free port, writes it)
"""
import datetime
import json
import queue
import ssl
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GROUP, VERSION = "wardle.example.com", "v1alpha1"
GV = f"{GROUP}/{VERSION}"
PREFIX = f"/apis/{GROUP}/{VERSION}"
LOCK = threading.Lock()
OBJECTS = {}  # (namespace, name) -> object
REVISION = [1]
WATCHERS = []  # one queue.Queue of (type, object) per open watch


def notify(event_type, obj):
    for q in list(WATCHERS):
        q.put((event_type, obj))

RESOURCE_LIST = {
    "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": GV,
    "resources": [{"name": "flunders", "singularName": "flunder", "namespaced": True,
                   "kind": "Flunder", "shortNames": ["fl"],
                   "verbs": ["create", "delete", "get", "list"]}],
}
GVK = {"group": GROUP, "version": VERSION, "kind": "Flunder"}
# Enough OpenAPI v3 for kubectl: the PATCH operation of the kind, tagged with its GVK and
# offering fieldValidation, tells kubectl to leave validation to the server.
OPENAPI_V3 = {
    "openapi": "3.0.0", "info": {"title": "wardle", "version": VERSION},
    "paths": {f"{PREFIX}/namespaces/{{namespace}}/flunders/{{name}}": {
        "patch": {"x-kubernetes-group-version-kind": GVK,
                  "parameters": [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}],
                  "responses": {"200": {"description": "OK"}}}}},
    "components": {"schemas": {"com.example.wardle.v1alpha1.Flunder": {
        "type": "object", "x-kubernetes-group-version-kind": [GVK],
        "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                       "metadata": {"type": "object"},
                       "spec": {"type": "object", "properties": {"reference": {"type": "string"}}}}}}},
}
API_GROUP = {"name": GROUP, "versions": [{"groupVersion": GV, "version": VERSION}],
             "preferredVersion": {"groupVersion": GV, "version": VERSION}}


def status(code, reason, message, name=None):
    s = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
         "message": message, "reason": reason, "code": code}
    if name is not None:
        s["details"] = {"name": name, "group": GROUP, "kind": "flunders"}
    return s


def table(objs):
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": str(REVISION[0])},
            "columnDefinitions": [{"name": "Name", "type": "string", "format": "name", "description": "", "priority": 0},
                                  {"name": "Reference", "type": "string", "format": "", "description": "", "priority": 0}],
            "rows": [{"cells": [o["metadata"]["name"], o.get("spec", {}).get("reference", "")],
                      "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                 "metadata": o["metadata"]}} for o in objs]}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        extra = ",".join("%s=%s" % (k[len("X-Remote-Extra-"):].lower(), v)
                         for k, v in self.headers.items() if k.lower().startswith("x-remote-extra-"))
        sys.stderr.write("wardle: %s %s user=%s groups=%s extra=%s\n" % (
            self.command, self.path, self.headers.get("X-Remote-User"),
            ",".join(self.headers.get_all("X-Remote-Group") or []), extra))

    def send(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def wants_table(self):
        return "as=Table" in (self.headers.get("Accept") or "")

    def route(self):
        path = self.path.split("?", 1)[0].rstrip("/")
        if not path.startswith(PREFIX + "/"):
            return path, None, None
        parts = path[len(PREFIX) + 1:].split("/")
        if parts == ["flunders"]:
            return path, None, None  # all namespaces
        if len(parts) >= 3 and parts[0] == "namespaces" and parts[2] == "flunders":
            return path, parts[1], parts[3] if len(parts) > 3 else None
        return path, "?", None

    def do_GET(self):
        path, ns, name = self.route()
        if path == "/apis":
            return self.send(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [API_GROUP]})
        if path == f"/apis/{GROUP}":
            return self.send(200, dict(API_GROUP, kind="APIGroup", apiVersion="v1"))
        if path == PREFIX:
            return self.send(200, RESOURCE_LIST)
        if path == "/openapi/v3" + PREFIX:
            return self.send(200, OPENAPI_V3)
        if ns == "?" or not path.startswith(PREFIX + "/"):
            return self.send(404, status(404, "NotFound", "the server could not find the requested resource"))
        if name is None and "watch=true" in self.path:
            return self.watch(ns)
        with LOCK:
            if name is None:
                items = [o for (n, _), o in sorted(OBJECTS.items()) if ns is None or n == ns]
                if self.wants_table():
                    return self.send(200, table(items))
                return self.send(200, {"kind": "FlunderList", "apiVersion": GV,
                                       "metadata": {"resourceVersion": str(REVISION[0])}, "items": items})
            obj = OBJECTS.get((ns, name))
        if obj is None:
            return self.send(404, status(404, "NotFound", f'flunders.{GROUP} "{name}" not found', name))
        self.send(200, table([obj]) if self.wants_table() else obj)

    def watch(self, ns):
        """Streams ADDED/DELETED events (chunked) until timeoutSeconds or the client leaves."""
        timeout = 30
        for part in self.path.split("?", 1)[-1].split("&"):
            if part.startswith("timeoutSeconds="):
                timeout = int(part.split("=", 1)[1])
        q = queue.Queue()
        with LOCK:
            WATCHERS.append(q)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        deadline = datetime.datetime.now() + datetime.timedelta(seconds=timeout)
        try:
            while True:
                left = (deadline - datetime.datetime.now()).total_seconds()
                if left <= 0:
                    break
                try:
                    event_type, obj = q.get(timeout=left)
                except queue.Empty:
                    break
                if ns is not None and obj["metadata"]["namespace"] != ns:
                    continue
                body = table([obj]) if self.wants_table() else obj
                data = (json.dumps({"type": event_type, "object": body}) + "\n").encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass
        finally:
            with LOCK:
                WATCHERS.remove(q)
        self.close_connection = True

    def do_POST(self):
        path, ns, name = self.route()
        if ns in (None, "?") or name is not None:
            return self.send(405, status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource"))
        length = int(self.headers.get("Content-Length") or 0)
        try:
            obj = json.loads(self.rfile.read(length) or b"{}")
        except ValueError as e:
            return self.send(400, status(400, "BadRequest", f"invalid JSON: {e}"))
        meta = obj.setdefault("metadata", {})
        name = meta.get("name", "")
        if not name:
            return self.send(422, status(422, "Invalid", "Flunder is invalid: metadata.name: Required value"))
        with LOCK:
            if (ns, name) in OBJECTS:
                return self.send(409, status(409, "AlreadyExists", f'flunders.{GROUP} "{name}" already exists', name))
            REVISION[0] += 1
            meta.update({"namespace": ns, "uid": str(uuid.uuid4()), "resourceVersion": str(REVISION[0]),
                         "creationTimestamp": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")})
            ann = meta.setdefault("annotations", {})
            ann["wardle.example.com/created-by"] = self.headers.get("X-Remote-User") or ""
            ann["wardle.example.com/created-by-groups"] = ",".join(self.headers.get_all("X-Remote-Group") or [])
            obj["apiVersion"], obj["kind"] = GV, "Flunder"
            OBJECTS[(ns, name)] = obj
            notify("ADDED", obj)
        self.send(201, obj)

    def do_DELETE(self):
        path, ns, name = self.route()
        if ns in (None, "?") or name is None:
            return self.send(405, status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource"))
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        with LOCK:
            obj = OBJECTS.pop((ns, name), None)
            if obj is not None:
                notify("DELETED", obj)
        if obj is None:
            return self.send(404, status(404, "NotFound", f'flunders.{GROUP} "{name}" not found', name))
        self.send(200, obj)


def main():
    cert, key, port_file = sys.argv[1:4]
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[4]) if len(sys.argv) > 4 else 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    import os
    os.rename(port_file + ".tmp", port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
