#include "kubelet/streaming/streaming_routes.h"

#include <vector>

#include "common/api_error.h"
#include "common/log.h"
#include "kubelet/kubelet_server.h"
#include "kubelet/streaming/port_forward.h"
#include "kubelet/streaming/remote_command.h"

namespace skiff::kubelet {

using net::HttpRequest;
using net::HttpResponse;

namespace {

std::vector<std::string> pathSegments(const std::string& path, const std::string& prefix) {
  std::vector<std::string> parts;
  size_t pos = prefix.size();
  while (pos < path.size()) {
    if (path[pos] == '/') {
      ++pos;
      continue;
    }
    size_t slash = path.find('/', pos);
    if (slash == std::string::npos) slash = path.size();
    parts.push_back(path.substr(pos, slash - pos));
    pos = slash;
  }
  return parts;
}

ApiError pathNotFound() {
  return ApiError(404, "NotFound", "the server could not find the requested resource");
}

void requireUpgradeMethod(const HttpRequest& req) {
  if (req.method != "GET" && req.method != "POST")
    throw ApiError(405, "MethodNotAllowed", "method not allowed");
}

// ns, pod and container from /exec/{ns}/{pod}[/{uid}]/{container} (or ?container=).
struct Target {
  std::string ns, pod, container;
};

Target containerTarget(const HttpRequest& req, const std::string& prefix) {
  auto parts = pathSegments(req.path, prefix);
  Target t;
  if (parts.size() == 3 || parts.size() == 4) {
    t = {parts[0], parts[1], parts.back()};
  } else if (parts.size() == 2) {
    t = {parts[0], parts[1], req.paramOr("container", "")};
  } else {
    throw pathNotFound();
  }
  if (t.ns.empty() || t.pod.empty()) throw pathNotFound();
  if (t.container.empty()) throw badRequest("a container name must be specified");
  return t;
}

// CRI failures as HTTP answers (upstream's streaming.WriteError: NotFound stays 404).
template <typename F>
std::string criUrl(F&& call, const std::string& what) {
  try {
    return call();
  } catch (const cri::CriError& e) {
    SKIFF_LOG_WARN("kubelet streaming: CRI {} failed code={} error=\"{}\"", what, e.code(),
                   e.what());
    if (e.notFound()) throw ApiError(404, "NotFound", e.what());
    throw ApiError(500, "InternalError", what + " failed: " + e.what());
  }
}

void requireBackend(const StreamingBackend& b) {
  if (!b.runtime || !b.containerId || !b.sandboxId)
    throw ApiError(503, "ServiceUnavailable", "streaming is not available on this kubelet");
}

}  // namespace

net::HttpHandler execHandler(StreamingBackend backend) {
  return [b = std::move(backend)](HttpRequest& req) -> HttpResponse {
    requireUpgradeMethod(req);
    Target t = containerTarget(req, "/exec");
    std::vector<std::string> command;
    for (auto [it, end] = req.query.equal_range("command"); it != end; ++it)
      command.push_back(it->second);
    if (command.empty())
      throw badRequest("you must specify at least one command for the container");
    auto options = streaming::remoteCommandOptions(req);
    requireBackend(b);
    return streaming::serveRemoteCommand(req, options, [&] {
      std::string id = b.containerId(t.ns, t.pod, t.container);
      cri::v1::ExecRequest r;
      r.set_container_id(id);
      for (const auto& c : command) r.add_cmd(c);
      r.set_tty(options.tty);
      r.set_stdin(options.in);
      r.set_stdout(options.out);
      r.set_stderr(options.err);
      SKIFF_LOG_INFO("kubelet exec pod={}/{} container={} command=\"{}\" tty={} stdin={}", t.ns,
                     t.pod, t.container, command.front(), options.tty, options.in);
      return criUrl([&] { return b.runtime->exec(r); }, "Exec");
    });
  };
}

net::HttpHandler attachHandler(StreamingBackend backend) {
  return [b = std::move(backend)](HttpRequest& req) -> HttpResponse {
    requireUpgradeMethod(req);
    Target t = containerTarget(req, "/attach");
    auto options = streaming::remoteCommandOptions(req);
    requireBackend(b);
    return streaming::serveRemoteCommand(req, options, [&] {
      std::string id = b.containerId(t.ns, t.pod, t.container);
      cri::v1::AttachRequest r;
      r.set_container_id(id);
      r.set_tty(options.tty);
      r.set_stdin(options.in);
      r.set_stdout(options.out);
      r.set_stderr(options.err);
      SKIFF_LOG_INFO("kubelet attach pod={}/{} container={} tty={} stdin={}", t.ns, t.pod,
                     t.container, options.tty, options.in);
      return criUrl([&] { return b.runtime->attach(r); }, "Attach");
    });
  };
}

net::HttpHandler portForwardHandler(StreamingBackend backend) {
  return [b = std::move(backend)](HttpRequest& req) -> HttpResponse {
    requireUpgradeMethod(req);
    auto parts = pathSegments(req.path, "/portForward");
    if (parts.size() != 2 && parts.size() != 3) throw pathNotFound();
    const std::string ns = parts[0], pod = parts[1];
    requireBackend(b);
    return streaming::servePortForward(req, [&] {
      std::string id = b.sandboxId(ns, pod);
      cri::v1::PortForwardRequest r;
      r.set_pod_sandbox_id(id);
      SKIFF_LOG_INFO("kubelet port-forward pod={}/{}", ns, pod);
      return criUrl([&] { return b.runtime->portForward(r); }, "PortForward");
    });
  };
}

void registerStreamingRoutes(KubeletServer& server, const StreamingBackend& backend) {
  server.addRoute("/exec", execHandler(backend));
  server.addRoute("/attach", attachHandler(backend));
  server.addRoute("/portForward", portForwardHandler(backend));
}

}  // namespace skiff::kubelet
