"""What the Python benches share: an HTTPS connection to a skiff API server as admin (from a
skiff data dir: kubeconfig, tls/ca.crt, tls/admin.crt, tls/admin.key) or with a bearer token,
and percentiles."""
import http.client
import re
import ssl


class _BearerConnection(http.client.HTTPSConnection):
    """Sends "Authorization: Bearer <token>" with every request."""

    def __init__(self, token, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._auth = f"Bearer {token}"

    def request(self, method, url, body=None, headers=None, **kwargs):
        super().request(method, url, body, {**(headers or {}), "Authorization": self._auth}, **kwargs)


def connector(data_dir, timeout, token=None):
    """Returns a function that opens a new connection to the data dir's API server: as admin
    (client certificate), or with `token` as a bearer token and no client certificate (a
    certificate would authenticate first and the token would not be looked at)."""
    server = re.search(r"server: https://([^:]+):(\d+)", open(f"{data_dir}/kubeconfig").read())
    host, port = server.group(1), int(server.group(2))
    ctx = ssl.create_default_context(cafile=f"{data_dir}/tls/ca.crt")
    if token:
        return lambda: _BearerConnection(token, host, port, context=ctx, timeout=timeout)
    ctx.load_cert_chain(f"{data_dir}/tls/admin.crt", f"{data_dir}/tls/admin.key")
    return lambda: http.client.HTTPSConnection(host, port, context=ctx, timeout=timeout)


def percentile(sorted_values, p, digits):
    """The p-th percentile (nearest rank below) of an ascending list, rounded."""
    return round(sorted_values[min(len(sorted_values) - 1, int(p / 100 * len(sorted_values)))], digits)
