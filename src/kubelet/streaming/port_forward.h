// port-forward: the kubelet ends the client's SPDY session (plain, or tunnelled in WebSocket
// as kubectl v1.32 first tries) and relays each forwarded connection through the container
// runtime's streaming server, where it is dialed inside the pod's network namespace.
//
// Per forwarded connection the client opens two streams sharing headers port and requestid:
// streamtype=error (the server writes a message there when forwarding fails) and
// streamtype=data (the bytes). kubectl opens the data stream only once the error stream got its
// SYN_REPLY. Each client stream is mirrored by a stream to the runtime with the same headers,
// and answered once the runtime answered.
#pragma once

#include <functional>
#include <string>

#include "apiserver/http_types.h"

namespace skiff::kubelet::streaming {

inline constexpr const char* kPortForwardProtocolV1 = "portforward.k8s.io";
// WebSocket subprotocol of SPDY tunnelled in binary messages (kubectl >= 1.31).
inline constexpr const char* kPortForwardTunnelProtocol = "SPDY/3.1+portforward.k8s.io";

// Asks the runtime (CRI PortForward) and returns its streaming URL; throws ApiError.
using PortForwardUrlProvider = std::function<std::string()>;

// Answers a port-forward upgrade request (ApiError 400/403 when the protocol does not fit) and
// returns the 101 whose handler serves the session.
apiserver::HttpResponse servePortForward(const apiserver::HttpRequest& req,
                                         const PortForwardUrlProvider& runtimeUrl);

}  // namespace skiff::kubelet::streaming
