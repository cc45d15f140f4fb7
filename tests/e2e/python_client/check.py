"""Assertions for the Python client checks. Each passed check prints "ok - WHAT", each failed
one "not ok - WHAT: why" (test_python_client.sh counts both). A failed check does not stop the
run, so one run shows every difference; CheckFailed (a step that cannot go on) does."""
import json
import time

from kubernetes.client.rest import ApiException


class CheckFailed(Exception):
    pass


FAILED = []


def ok(cond, what, detail=""):
    if not cond:
        FAILED.append(what)
        print("not ok - %s: %s" % (what, detail), flush=True)
        return False
    print("ok - %s" % what, flush=True)
    return True


def eq(actual, expected, what):
    return ok(actual == expected, what, "expected [%r], got [%r]" % (expected, actual))


def contains(haystack, needle, what):
    return ok(haystack is not None and needle in haystack, what,
       "expected [%r] to contain [%r]" % (haystack, needle))


class _Missing(dict):
    """What a Status that never came reads as: every key is missing, so checks on it fail."""

    def __getitem__(self, key):
        return _Missing()

    def __repr__(self):
        return "<no Status>"


class _NoError:
    status = None
    reason = "the call succeeded"


def api_error(call, *args, **kwargs):
    """Runs call, which should raise ApiException; returns (exception, parsed Status body).
    When it succeeds, the returned stand-ins make the caller's checks fail (and the run go on)."""
    try:
        call(*args, **kwargs)
    except ApiException as e:
        try:
            body = json.loads(e.body) if e.body else _Missing()
        except ValueError:
            body = _Missing()
        return e, body
    print("# %s succeeded, expected an ApiException" % call.__name__, flush=True)
    return _NoError(), _Missing()


def wait_until(what, seconds, probe):
    """Polls probe() until it returns something truthy; returns that."""
    deadline = time.time() + seconds
    last = None
    while time.time() < deadline:
        try:
            last = probe()
            if last:
                return last
        except (ApiException, AttributeError, TypeError) as e:  # e.g. no status yet
            last = e
        time.sleep(0.2)
    raise CheckFailed("%s (waited %ss, last: %r)" % (what, seconds, last))


def is_gone(read, *args):
    """True once read(*args) answers 404."""
    try:
        read(*args)
        return False
    except ApiException as e:
        if e.status == 404:
            return True
        raise


def read_until_closed(sock):
    """Everything the peer sends until it closes the connection."""
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
