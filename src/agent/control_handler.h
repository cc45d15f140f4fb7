// The hollow agent's control endpoint, so scale tests can kill one simulated machine:
//   GET  /nodes               → {"nodes":[{"name","state","podCIDR","pods"}]}
//   GET  /nodes/<name>        → one node
//   POST /nodes/<name>/stop   → the node stops heartbeating (a dead machine)
//   POST /nodes/<name>/start  → it resumes
//   GET  /healthz             → "ok"
// Only the handler lives here (plain request/response types); the CLI serves it on a
// loopback HttpServer.
#pragma once
#include "agent/hollow_agent.h"
#include "net/http_types.h"

namespace skiff::agent {

net::HttpResponse handleControlRequest(HollowAgent& agent, const net::HttpRequest& request);

}  // namespace skiff::agent
