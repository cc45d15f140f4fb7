"""TLS session resumption: Python's ssl and Node's https agent offer a connection's TLS session
again on the next one. A server that asks for client certificates must resume it (before the
fix, OpenSSL failed every such handshake with an internal-error alert)."""
import socket
import ssl
import urllib.parse

from kubernetes import client

import check


def _readyz(ctx, host, port, session):
    with socket.create_connection((host, port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=host, session=session) as s:
            s.sendall(b"GET /readyz HTTP/1.1\r\nHost: " + host.encode() +
                      b"\r\nConnection: close\r\n\r\n")
            data = check.read_until_closed(s)
            # TLS 1.3 tickets come after the handshake: read with the answer.
            return data.split(b"\r\n", 1)[0], s.session, s.session_reused


def run():
    cfg = client.Configuration.get_default_copy()
    url = urllib.parse.urlparse(cfg.host)
    ctx = ssl.create_default_context(cafile=cfg.ssl_ca_cert)
    if cfg.cert_file:
        ctx.load_cert_chain(cfg.cert_file, cfg.key_file)
    status, session, _ = _readyz(ctx, url.hostname, url.port, None)
    check.eq(status, b"HTTP/1.1 200 OK", "readyz over a fresh TLS connection")
    try:
        status, _, reused = _readyz(ctx, url.hostname, url.port, session)
    except ssl.SSLError as e:
        status, reused = repr(e), False
    check.eq(status, b"HTTP/1.1 200 OK", "a connection offering the last TLS session is served")
    check.ok(reused, "the offered TLS session is resumed")
