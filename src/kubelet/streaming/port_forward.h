// port-forward: the kubelet ends the client's SPDY session (plain, or tunnelled in WebSocket
// as kubectl v1.32 first tries) and relays each forwarded connection through the container
// runtime's streaming server, where it is dialed inside the pod's network namespace.
//
// SPDY: per forwarded connection the client opens two streams sharing headers port and
// requestid: streamtype=error (the server writes a message there when forwarding fails) and
// streamtype=data (the bytes). kubectl opens the data stream only once the error stream got its
// SYN_REPLY. Each client stream is mirrored by a stream to the runtime with the same headers,
// and answered once the runtime answered.
//
// WebSocket channel protocols (v4.channel.k8s.io, v4.base64.channel.k8s.io, or no subprotocol;
// framing in websocket.h): one connection per port named in the query (`port`, as upstream's
// API server passes it on, or `ports`, the client's name, which skiff's API server passes
// through unchanged). Port i has data channel 2i and error channel 2i+1; the server's first
// message on each is the port number, 2 bytes little-endian. The kubelet makes the connection
// through the runtime's SPDY session (one error and one data stream, requestid i), relays data
// both ways and the runtime's error text to the error channel, and closes the WebSocket once
// every port's connection has ended, as upstream does.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "net/http_types.h"

namespace skiff::kubelet::streaming {

inline constexpr const char* kPortForwardProtocolV1 = "portforward.k8s.io";
// WebSocket subprotocol of SPDY tunnelled in binary messages (kubectl >= 1.31).
inline constexpr const char* kPortForwardTunnelProtocol = "SPDY/3.1+portforward.k8s.io";
inline constexpr const char* kPortForwardChannelProtocol = "v4.channel.k8s.io";
inline constexpr const char* kPortForwardBase64Protocol = "v4.base64.channel.k8s.io";

// The ports of a WebSocket channel session, from `port` and `ports` (each a comma-separated
// list, as upstream parses it). Throws ApiError 400 when there is none or one is not a port.
std::vector<uint16_t> portForwardPorts(const net::HttpRequest& req);

// Asks the runtime (CRI PortForward) and returns its streaming URL; throws ApiError.
using PortForwardUrlProvider = std::function<std::string()>;

// Answers a port-forward upgrade request (ApiError 400/403 when the protocol does not fit) and
// returns the 101 whose handler serves the session.
net::HttpResponse servePortForward(const net::HttpRequest& req,
                                   const PortForwardUrlProvider& runtimeUrl);

}  // namespace skiff::kubelet::streaming
