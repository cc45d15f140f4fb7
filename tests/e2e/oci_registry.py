#!/usr/bin/env python3
"""A read-only container registry on loopback for the tests (OCI distribution API, pull side).

Usage: oci_registry.py PORT REPO:TAG=OCI_TARBALL [...]
Serves GET/HEAD /v2/, /v2/<repo>/manifests/<tag|digest> and /v2/<repo>/blobs/<digest> from
OCI image-layout tarballs such as build/images/busybox.tar. Prints "ready" once listening.
"""
import hashlib
import http.server
import json
import sys
import tarfile


def load(tarball):
    blobs = {}
    with tarfile.open(tarball) as t:
        for m in t.getmembers():
            if m.isfile() and m.name.startswith("blobs/sha256/"):
                blobs["sha256:" + m.name.rsplit("/", 1)[1]] = t.extractfile(m).read()
        index = json.loads(t.extractfile("index.json").read())
    manifest = index["manifests"][0]
    return manifest["digest"], manifest["mediaType"], blobs


def main():
    port = int(sys.argv[1])
    repos = {}  # repo -> {tag: digest}, plus one blob store
    blobs, media = {}, {}
    for spec in sys.argv[2:]:
        ref, tarball = spec.split("=", 1)
        repo, tag = ref.rsplit(":", 1)
        digest, mediatype, b = load(tarball)
        blobs.update(b)
        media[digest] = mediatype
        repos.setdefault(repo, {})[tag] = digest

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def send(self, code, body=b"", ctype="application/json", digest=None):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Docker-Distribution-API-Version", "registry/2.0")
            if digest:
                self.send_header("Docker-Content-Digest", digest)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_GET(self):
            path = self.path.split("?", 1)[0]
            if path in ("/v2", "/v2/"):
                return self.send(200, b"{}")
            for kind in ("/manifests/", "/blobs/"):
                if kind in path:
                    repo, ref = path[len("/v2/"):].split(kind, 1)
                    digest = ref if ref.startswith("sha256:") else repos.get(repo, {}).get(ref)
                    if repo not in repos or digest not in blobs:
                        return self.send(404, json.dumps({"errors": [{"code": "MANIFEST_UNKNOWN" if kind == "/manifests/" else "BLOB_UNKNOWN", "message": "not found"}]}).encode())
                    body = blobs[digest]
                    assert "sha256:" + hashlib.sha256(body).hexdigest() == digest
                    ctype = media.get(digest, "application/octet-stream") if kind == "/manifests/" else "application/octet-stream"
                    return self.send(200, body, ctype, digest)
            self.send(404, b'{"errors":[{"code":"NAME_UNKNOWN","message":"not found"}]}')

        do_HEAD = do_GET

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
