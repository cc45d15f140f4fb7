"""Pod logs, exec, attach and port-forward with the Python client. exec/attach/port-forward use
kubernetes.stream, which speaks WebSocket v4.channel.k8s.io to the API server (tunnelled to the
kubelet): stdin goes as text messages, port-forward as the channel protocol with one data and
one error channel per port."""
import base64
import json
import re

from kubernetes import client, watch
from kubernetes.client.rest import ApiException
from kubernetes.stream import portforward, stream
from kubernetes.stream.ws_client import (ERROR_CHANNEL, RESIZE_CHANNEL, create_websocket,
                                         get_websocket_url)
from websocket import ABNF

from check import api_error, contains, eq, ok, read_until_closed, wait_until


def run(ns, node):
    v1 = client.CoreV1Api()
    for name in ("web", "logger", "echoer"):
        wait_until("pod %s Running" % name, 90,
                   lambda: v1.read_namespaced_pod(name, ns).status.phase == "Running")
    ok(True, "the pods run on the node")
    pod_reads(v1, ns, node)
    logs(v1, ns)
    execs(v1, ns)
    attach(v1, ns)
    port_forward(v1, ns)
    base64_protocol(ns)


def pod_reads(v1, ns, node):
    running = v1.list_namespaced_pod(ns, field_selector="status.phase=Running")
    names = {p.metadata.name for p in running.items}
    ok({"web", "logger", "echoer"} <= names, "field selector status.phase=Running", names)
    on_node = v1.list_pod_for_all_namespaces(field_selector="spec.nodeName=" + node,
                                             label_selector="app=web")
    eq([p.metadata.name for p in on_node.items], ["web"],
       "field selector spec.nodeName with a label selector, across namespaces")
    web = v1.read_namespaced_pod("web", ns)
    ok(web.status.pod_ip and web.status.container_statuses[0].ready,
       "a running Pod has an IP and a ready container", web.status.pod_ip)
    eq(v1.read_namespaced_pod_status("web", ns).status.phase, "Running", "read the status subresource")


def ticks(text):
    return [int(n) for n in re.findall(r"tick (\d+)", text)]


def logs(v1, ns):
    text = v1.read_namespaced_pod_log("logger", ns)
    ok(text.startswith("first\nsecond\ntick 0\n"), "read a Pod's log", text[:40])
    last = v1.read_namespaced_pod_log("logger", ns, tail_lines=1)
    ok(re.fullmatch(r"tick \d+\n", last), "tail_lines=1 gives the last line", last)

    seen = max(ticks(text))
    resp = v1.read_namespaced_pod_log("logger", ns, follow=True, _preload_content=False,
                                      _request_timeout=20)
    got = ""
    # Chunk by chunk as they arrive (the server streams chunked, as upstream does).
    for chunk in resp.stream(None, decode_content=False):
        got += chunk.decode()
        if ticks(got) and max(ticks(got)) >= seen + 3:
            break
    resp.close()
    numbers = ticks(got)
    eq(numbers, list(range(numbers[0], numbers[-1] + 1)), "follow=True streams every line in order")
    ok(numbers[-1] >= seen + 3, "follow=True keeps streaming lines written after the request")

    w = watch.Watch()
    lines = []
    for line in w.stream(v1.read_namespaced_pod_log, name="logger", namespace=ns, tail_lines=2):
        lines.append(line)
        if len(lines) == 4:
            w.stop()
    ok(all(re.fullmatch(r"tick \d+", l) for l in lines), "Watch().stream follows a log by lines",
       lines)

    e, status = api_error(v1.read_namespaced_pod_log, "logger", ns, container="nope")
    eq((e.status, status["reason"]), (400, "BadRequest"), "a log of an unknown container is a 400")
    contains(status["message"], "container nope is not valid for pod logger", "the 400 names it")


def execs(v1, ns):
    ex = v1.connect_get_namespaced_pod_exec
    out = stream(ex, "web", ns, command=["hostname"], stdout=True, stderr=True, stdin=False,
                 tty=False)
    eq(out, "web\n", "exec returns the command's output")

    resp = stream(ex, "web", ns, command=["sh", "-c", "echo out; echo err >&2; exit 3"],
                  stdout=True, stderr=True, stdin=False, tty=False, _preload_content=False)
    resp.run_forever(timeout=20)
    eq((resp.read_stdout(), resp.read_stderr()), ("out\n", "err\n"),
       "stdout and stderr arrive on their own channels")
    status = json.loads(resp.read_channel(ERROR_CHANNEL))
    eq((status["status"], status["reason"], status["details"]["causes"][0]),
       ("Failure", "NonZeroExitCode", {"reason": "ExitCode", "message": "3"}),
       "the error channel carries the exit code as a v4 Status")

    resp = stream(ex, "web", ns, command=["sh", "-c", "read x; echo got:$x; echo bad:$x >&2; exit 7"],
                  stdout=True, stderr=True, stdin=True, tty=False, _preload_content=False)
    resp.write_stdin("hi\n")
    resp.run_forever(timeout=20)
    eq((resp.read_stdout(), resp.read_stderr(), resp.returncode), ("got:hi\n", "bad:hi\n", 7),
       "stdin reaches the command; returncode is its exit code")
    resp = stream(ex, "web", ns, command=["true"], stdout=True, stderr=True, stdin=False,
                  tty=False, _preload_content=False)
    resp.run_forever(timeout=20)
    eq(resp.returncode, 0, "returncode 0 for a command that succeeds")

    # Interactive: each line written is answered before the next one is sent.
    resp = stream(ex, "web", ns, command=["cat"], stdout=True, stderr=True, stdin=True,
                  tty=False, _preload_content=False)
    answers = []
    for word in ("alpha", "beta", "gamma"):
        resp.write_stdin(word + "\n")
        answers.append(resp.readline_stdout(timeout=10))
    eq(answers, ["alpha", "beta", "gamma"], "interactive stdin: cat answers line by line")
    resp.write_stdin(b"bytes\n")  # a binary message this time
    eq(resp.readline_stdout(timeout=10), "bytes", "stdin as bytes (binary messages) works too")
    resp.close()

    resp = stream(ex, "web", ns, command=["sh", "-c", "sleep 0.5; stty size"], stdout=True,
                  stderr=False, stdin=True, tty=True, _preload_content=False)
    resp.write_channel(RESIZE_CHANNEL, json.dumps({"Width": 100, "Height": 30}))
    resp.run_forever(timeout=20)
    eq(resp.read_stdout().strip(), "30 100", "a tty gets the size sent on the resize channel")

    try:
        stream(ex, "web", ns, container="nope", command=["true"], stdout=True, stderr=True,
               stdin=False, tty=False)
        ok(False, "exec into an unknown container fails")
    except ApiException as e:
        # The client turns a refused WebSocket handshake into status 0 with the HTTP answer in
        # the reason (it would against upstream too).
        contains(e.reason, "400", "exec into an unknown container is refused with a 400")


def attach(v1, ns):
    at = v1.connect_get_namespaced_pod_attach
    resp = stream(at, "echoer", ns, stdin=True, stdout=True, stderr=True, tty=False,
                  _preload_content=False)
    answers = []
    for word in ("one", "two"):
        resp.write_stdin(word + "\n")
        answers.append(resp.readline_stdout(timeout=10))
    resp.close()
    eq(answers, ["echo:one", "echo:two"], "attach: stdin reaches the container, its answers come back")

    resp = stream(at, "logger", ns, stdin=False, stdout=True, stderr=False, tty=False,
                  _preload_content=False)
    line = resp.readline_stdout(timeout=10)
    resp.close()
    ok(line and re.fullmatch(r"tick \d+", line), "attach streams the running container's output",
       line)


def http_get(sock):
    sock.settimeout(15)
    sock.sendall(b"GET / HTTP/1.0\r\nHost: web\r\n\r\n")
    data = read_until_closed(sock)
    sock.close()
    return data.decode(errors="replace")


def port_forward(v1, ns):
    pf = portforward(v1.connect_get_namespaced_pod_portforward, "web", ns, ports="8080")
    answer = http_get(pf.socket(8080))
    ok(answer.startswith("HTTP/1.") and " 200 " in answer.split("\r\n")[0],
       "port-forward: an HTTP request reaches the pod's httpd", answer[:60])
    contains(answer, "skiff busybox httpd", "port-forward: the pod's page comes back whole")
    eq(pf.error(8080), None, "no error on the port's error channel")

    # Two ports in one session; nothing listens on the second one.
    pf = portforward(v1.connect_get_namespaced_pod_portforward, "web", ns, ports="8080,9")
    error = wait_until("the error channel of port 9 reports the failure", 20, lambda: pf.error(9))
    print("# port 9: %s" % error, flush=True)
    contains(error, "connection refused",
             "port-forward to a closed port reports it on the port's error channel")
    answer = http_get(pf.socket(8080))
    contains(answer, "skiff busybox httpd", "the other port of the session still forwards")
    wait_until("the session ends once every port's connection ended", 20,
               lambda: not pf.connected)
    ok(True, "the kubelet closes the session once every port's connection ended")


def base64_protocol(ns):
    """The base64 channel protocol, which kubernetes.stream never asks for: the client's own
    create_websocket with the subprotocol header set, through the API server's tunnel."""
    conf = client.Configuration.get_default_copy()
    url = get_websocket_url("%s/api/v1/namespaces/%s/pods/web/exec" % (conf.host, ns), [
        ("command", "sh"), ("command", "-c"), ("command", "head -c 5; echo; exit 2"),
        ("stdin", "true"), ("stdout", "true")])
    ws = create_websocket(conf, url, {"sec-websocket-protocol": "v4.base64.channel.k8s.io"})
    ws.send("0" + base64.b64encode(b"\x00\xffabc").decode())  # stdin: 5 bytes, not text
    frames = []
    while True:
        opcode, frame = ws.recv_data_frame(True)
        if opcode == ABNF.OPCODE_CLOSE:
            break
        frames.append((opcode, frame.data.decode()))
    ws.close()
    ok(frames and all(op == ABNF.OPCODE_TEXT for op, _ in frames),
       "v4.base64.channel.k8s.io: every message is text", frames)
    out = b"".join(base64.b64decode(d[1:]) for _, d in frames if d[:1] == "1")
    eq(out, b"\x00\xffabc\n", "base64 stdin and stdout carry any bytes")
    status = [json.loads(base64.b64decode(d[1:])) for _, d in frames if d[:1] == "3"]
    eq([s["details"]["causes"][0]["message"] for s in status], ["2"],
       "the status is on channel 3, base64 too")
