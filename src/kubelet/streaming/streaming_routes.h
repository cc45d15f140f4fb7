// The kubelet's streaming endpoints, as upstream's kubelet serves them (the API server passes
// kubectl's upgrade request through to these paths):
//   GET|POST /exec/{namespace}/{pod}/{container}?command=..&stdin=..&stdout=..&stderr=..&tty=..
//   GET|POST /attach/{namespace}/{pod}/{container}?stdin=..&stdout=..&stderr=..&tty=..
//   GET|POST /portForward/{namespace}/{pod}
// ({pod}/{uid}/{container} and {pod}/{uid} are accepted too, and a missing container segment
// may come as ?container=). Protocols: see remote_command.h and port_forward.h.
#pragma once

#include <functional>
#include <string>

#include "kubelet/cri/runtime_service.h"
#include "net/http_types.h"

namespace skiff::kubelet {

class KubeletServer;

// What the endpoints need from the kubelet. The resolvers are called from server threads and
// must be thread-safe; they throw ApiError with upstream's answer when the pod or container is
// not there or not running.
struct StreamingBackend {
  cri::RuntimeService* runtime = nullptr;
  // The runtime ID of the running container `container` of pod ns/pod.
  std::function<std::string(const std::string& ns, const std::string& pod,
                            const std::string& container)>
      containerId;
  // The runtime ID of the ready sandbox of pod ns/pod.
  std::function<std::string(const std::string& ns, const std::string& pod)> sandboxId;
};

net::HttpHandler execHandler(StreamingBackend backend);
net::HttpHandler attachHandler(StreamingBackend backend);
net::HttpHandler portForwardHandler(StreamingBackend backend);

// Adds /exec, /attach and /portForward to the server (before it starts).
void registerStreamingRoutes(KubeletServer& server, const StreamingBackend& backend);

}  // namespace skiff::kubelet
