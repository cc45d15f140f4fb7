// The HTTP/1.1 server (Boost.Beast, kept out of this header). Connections are C++20
// coroutines on a small thread pool; a handler runs synchronously on the connection's
// thread, and streaming responses are driven asynchronously. A 101 answer with
// HttpResponse::upgrade hands the connection over to that function on a thread of its own.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "net/http_types.h"

namespace skiff::net {

struct HttpServerOptions {
  std::string listen = "127.0.0.1:6443";  // host:port; port 0 picks a free port
  // More addresses served the same way by the same loops (hollow nodes: one per node);
  // handlers tell them apart by HttpRequest::localAddress.
  std::vector<std::string> additionalListen;
  int threads = 2;                        // event loops, one thread each
  size_t maxBodyBytes = 3 * 1024 * 1024;  // larger bodies get 413 (upstream's limit)
  // When set the server speaks only HTTPS.
  std::string tlsCertFile, tlsKeyFile;
  // CA that signs client certificates; the verified CN/O reach handlers as HttpRequest::client.
  std::string clientCaFile;
  // stop() closes connections handed to UpgradeHandlers (101) and waits this long for the
  // handlers to return; those still running then are left to end on their own (their
  // connection's reads return 0 and writes throw).
  std::chrono::milliseconds upgradeStopGrace{5000};
  // Requests this returns true for run on a pool of `blockingThreads` threads instead of
  // their connection's event loop: a handler that waits on another server (the API
  // server's kubelet proxying: a dead node makes it wait for its timeouts) must not stall
  // the other connections of its loop.
  std::function<bool(const HttpRequest&)> mayBlock;
  int blockingThreads = 4;
  // Requests this returns true for (and mayBlock does not) run on a pool of their own of
  // `writeThreads` threads: handlers that wait for a durable commit (the API server's
  // creates, updates, deletes). While they wait their event loop serves its other
  // connections, and up to `writeThreads` of them wait for the store at once, so its writer
  // commits them together (group commit) instead of one per event loop. A pool apart from
  // `blockingThreads` so that a flood of writes never delays lists and proxying, nor they it.
  // Each connection still handles one request at a time: its answers stay in request order.
  // Except: a write that arrives while no other such write is in flight anywhere in the
  // server (none queued for the pool, on it, or running on a loop), and is still alone after
  // the requests its loop has already read had their turn, runs on its loop. It has nothing
  // to be committed with, and the hand-off (loop -> pool -> loop: two thread wake-ups) would
  // be pure cost; in exchange its loop's other connections wait for its commit, as all of
  // them did before the pool. A write arriving while one is in flight goes to the pool.
  std::function<bool(const HttpRequest&)> waitsForCommit;
  int writeThreads = 16;
  // Called on the connection's event loop, as soon as a request that mayBlock or
  // waitsForCommit picks has been read, before it waits for a pool thread (the API server's
  // in-flight limit counts a request from its arrival, upstream's behaviour). A response
  // returned is the answer, and the handler is not called (429); otherwise what it leaves in
  // `hold` (an in-flight slot) is kept until the handler returned, and the handler runs with
  // admittedOnArrival() true.
  std::function<std::optional<HttpResponse>(HttpRequest&, std::shared_ptr<void>& hold)> admit;
  // Connection limits, so that slow or idle clients cost a socket and a coroutine frame but
  // never a thread, and not forever (upstream's Go server: ReadHeaderTimeout 32 s):
  // - a keep-alive connection waits this long for the first byte of its next request;
  std::chrono::milliseconds idleTimeout{std::chrono::minutes(5)};
  // - once a request started, its headers must be complete within this (slow-header clients);
  std::chrono::milliseconds headerTimeout{std::chrono::seconds(30)};
  // - and its body within this;
  std::chrono::milliseconds bodyTimeout{std::chrono::seconds(60)};
  // - each write of an answer (and of a watch chunk) must finish within this: a client that
  //   stops reading is dropped.
  std::chrono::milliseconds writeTimeout{std::chrono::seconds(60)};
  // Upgraded connections (exec/attach/port-forward: a thread each) at once; more upgrade
  // requests get 429 before the handler runs. 0: no limit.
  int maxUpgradedConnections = 256;
};

// In a handler: whether HttpServerOptions::admit admitted this request on arrival (so the
// handler must not count it again). Reading it clears it, so a request the handler makes
// in-process on the same thread is not taken for admitted.
bool takeAdmittedOnArrival();

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, HttpHandler handler);
  ~HttpServer();
  // Binds and starts serving on background threads. Throws std::runtime_error on failure.
  void start();
  void stop();
  unsigned short port() const;
  // The bound port of `listen` followed by those of `additionalListen`, in order.
  std::vector<unsigned short> ports() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace skiff::net
