// exec and attach: the kubelet ends the client's protocol and relays to the container
// runtime's streaming server as a SPDY client (v4.channel.k8s.io), like upstream's kubelet
// with its CRI streaming proxy.
//
// Client protocols:
//   WebSocket  v5.channel.k8s.io, v4.channel.k8s.io, channel.k8s.io (also when the client
//              offers no subprotocol) — messages whose first byte is the channel: 0 stdin,
//              1 stdout, 2 stderr, 3 error/status, 4 resize ({"Width":..,"Height":..}); v5 adds
//              {255, channel} to close a channel (kubectl sends {255, 0} at stdin EOF).
//              v4.base64.channel.k8s.io and base64.channel.k8s.io: the same in text messages,
//              the channel as a digit and the data in base64 (websocket.h, ChannelEncoding).
//              Clients may send text or binary messages on any of them. The server first sends
//              an empty message on the lowest channel it writes (stdout, else stderr, else
//              error), as upstream does to say the session is up, and ends with the status on
//              channel 3 and a close frame (1000).
//   SPDY/3.1   X-Stream-Protocol-Version v5/v4/v3/v2.channel.k8s.io and channel.k8s.io — the
//              client opens streams with header streamtype = error, stdin, stdout, stderr,
//              resize (resize from v3 on); the status goes on the error stream.
// Status: v4 and later carry a metav1.Status JSON (Success, or Failure with reason
// NonZeroExitCode and details.causes[{reason: ExitCode, message: "<code>"}], which makes
// kubectl exit with that code); earlier versions only the error message text, on failure.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "net/http_types.h"

namespace skiff::kubelet::streaming {

inline constexpr const char* kStreamProtocolV5 = "v5.channel.k8s.io";
inline constexpr const char* kStreamProtocolV4 = "v4.channel.k8s.io";
inline constexpr const char* kStreamProtocolV3 = "v3.channel.k8s.io";
inline constexpr const char* kStreamProtocolV2 = "v2.channel.k8s.io";
inline constexpr const char* kStreamProtocolV1 = "channel.k8s.io";
inline constexpr const char* kStreamProtocolV4Base64 = "v4.base64.channel.k8s.io";
inline constexpr const char* kStreamProtocolV1Base64 = "base64.channel.k8s.io";

struct RemoteCommandOptions {
  bool in = false;   // stdin
  bool out = false;  // stdout
  bool err = false;  // stderr
  bool tty = false;
};

// From the query (stdin, stdout, stderr, tty; "1" or "true"). stderr is dropped with a tty,
// as upstream does. Throws ApiError 400 when no stream is asked for.
RemoteCommandOptions remoteCommandOptions(const net::HttpRequest& req);

// Asks the runtime for the session (CRI Exec or Attach) and returns its streaming URL; throws
// ApiError when that fails. Called once, synchronously, from serveRemoteCommand.
using RuntimeUrlProvider = std::function<std::string()>;

// Answers an exec/attach upgrade request: negotiates the client's protocol (ApiError 400/403
// when it cannot; kubectl then falls back from WebSocket to SPDY), obtains the runtime URL and
// connects to it, and returns the 101 whose handler relays the session.
net::HttpResponse serveRemoteCommand(const net::HttpRequest& req,
                                     const RemoteCommandOptions& options,
                                     const RuntimeUrlProvider& runtimeUrl);

// The status JSON a v4+ runtime sent (empty when it sent none), as the client's protocol wants
// it: v4/v5 the Status JSON, v1-v3 the message text on failure and nothing on success.
std::string statusForClient(const std::string& runtimeStatus, const std::string& clientProtocol);

}  // namespace skiff::kubelet::streaming
