"""Runs the Python client checks against a skiff server: main.py KUBECONFIG (env NODE: the node's
name). One namespace holds what the checks create; it is deleted at the end."""
import os
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kubernetes import client, config  # noqa: E402

import check  # noqa: E402
import crud_checks  # noqa: E402
import stream_checks  # noqa: E402
import tls_checks  # noqa: E402
import watch_checks  # noqa: E402

NS = "pyclient"


def main():
    config.load_kube_config(config_file=sys.argv[1])
    node = os.environ.get("NODE", "")
    try:
        tls_checks.run()
        crud_checks.run(NS)
        watch_checks.run(NS)
        stream_checks.run(NS, node)
        crud_checks.delete_namespace(NS)
    except check.CheckFailed as e:
        print("not ok - the checks stopped: %s" % e, flush=True)
        return 1
    except Exception:  # an unexpected error is a failure too, with where it happened
        print("not ok - the checks stopped on an unexpected error", flush=True)
        traceback.print_exc(file=sys.stdout)
        return 1
    return 1 if check.FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
