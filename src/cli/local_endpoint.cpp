#include "cli/local_endpoint.h"

#include <boost/json/serialize.hpp>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "common/api_error.h"
#include "common/log.h"

namespace skiff::cli {
namespace {

using client::HttpResult;
using net::HttpRequest;
using net::HttpResponse;

// A watch's wake-ups: set from the API server's threads when events are ready, and from
// StreamAbort::abort().
struct Signal {
  std::mutex mu;
  std::condition_variable cv;
  bool woken = false;
  void wake() {
    {
      std::lock_guard lock(mu);
      woken = true;
    }
    cv.notify_one();
  }
};

class InProcessEndpoint final : public client::LocalEndpoint {
 public:
  InProcessEndpoint(apiserver::ApiServer& server, std::string userAgent)
      : server_(server), userAgent_(std::move(userAgent)) {}

  HttpResult request(const std::string& method, const std::string& target, const std::string& body,
                     const std::string& contentType) override {
    HttpResult result;
    HttpResponse res;
    if (!call(method, target, body, contentType, res, result)) return result;
    if (res.stream || res.status == 101) {
      // Only stream() can follow such an answer; over HTTP it would hang or switch protocols.
      if (res.stream) res.stream->cancel();
      failWith(
          internalError("the answer to " + method + " " + target + " is a stream; use a watch"),
          result);
      return result;
    }
    fill(res, result);
    result.body = std::move(res.body);
    return result;
  }

  HttpResult stream(const std::string& target, const std::function<void(std::string_view)>& onData,
                    client::StreamAbort& abort) override {
    std::vector<std::string> chunks;
    return run(target, abort, onData, [&](net::StreamSource& source) {
      chunks.clear();
      const bool open = source.drain(chunks);
      for (const auto& chunk : chunks) onData(chunk);
      return open;
    });
  }

  HttpResult watch(const std::string& target, const EventHandler& onEvent,
                   client::StreamAbort& abort) override {
    std::vector<net::StreamEvent> events;
    auto asText = [](std::string_view) {
      throw std::runtime_error("a watch answered with a body instead of a stream");
    };
    return run(target, abort, asText, [&](net::StreamSource& source) {
      if (!source.supportsEvents()) throw std::runtime_error("this watch only streams text");
      events.clear();
      const bool open = source.drainEvents(events);
      for (auto& ev : events) onEvent(ev.type, std::move(ev.object));
      return open;
    });
  }

 private:
  // GET `target`; a streamed answer is pumped with `drainOnce(source)` (false: the stream
  // ended) whenever the source has news, until it ends, its deadline passes or `abort`
  // fires. A plain 2xx answer goes to onBody; an error is returned in the result.
  template <class DrainOnce>
  HttpResult run(const std::string& target, client::StreamAbort& abort,
                 const std::function<void(std::string_view)>& onBody, DrainOnce&& drainOnce) {
    HttpResult result;
    if (abort.aborted()) return result;
    HttpResponse res;
    if (!call("GET", target, "", "", res, result)) return result;
    fill(res, result);
    if (!res.stream) {
      if (res.status / 100 == 2)
        onBody(res.body);
      else
        result.body = std::move(res.body);
      return result;
    }
    auto source = res.stream;
    auto signal = std::make_shared<Signal>();
    // The source may call wake after this function returned (it is cancelled, not joined):
    // the lambda keeps the Signal alive.
    source->start([signal] { signal->wake(); });
    struct Finish {
      client::StreamAbort& abort;
      std::shared_ptr<net::StreamSource>& source;
      ~Finish() {
        abort.attach(std::function<void()>{});
        source->cancel();
      }
    } finish{abort, source};
    if (!abort.attach(std::function<void()>([signal] { signal->wake(); }))) return result;
    for (;;) {
      {
        std::lock_guard lock(signal->mu);
        signal->woken = false;  // before draining: a wake-up during the drain is kept
      }
      if (!drainOnce(*source) || abort.aborted()) break;
      if (std::chrono::steady_clock::now() >= source->deadline)
        break;  // the watch's timeoutSeconds: it ends as the HTTP server would end it
      std::unique_lock lock(signal->mu);
      auto woken = [&] { return signal->woken; };
      const auto until = source->nextLook();
      if (until == std::chrono::steady_clock::time_point::max())
        signal->cv.wait(lock, woken);
      else
        signal->cv.wait_until(lock, until, woken);  // woken, or time to drain (bookmark) or end
    }
    return result;
  }

  // Runs the handler; false (with `result` holding the error Status) when it threw.
  bool call(const std::string& method, const std::string& target, const std::string& body,
            const std::string& contentType, HttpResponse& res, HttpResult& result) {
    HttpRequest req;
    req.method = method;
    req.target = target;
    if (!net::parseTarget(req)) {
      failWith(badRequest("malformed request target"), result);
      return false;
    }
    req.headers.emplace("accept", "application/json");
    req.headers.emplace("user-agent", userAgent_);
    if (!contentType.empty()) req.headers.emplace("content-type", contentType);
    req.body = body;
    req.remoteAddress = "in-process";
    // The API server's loopback identity (upstream's loopback client): its own components
    // are trusted as system:masters. One object for every in-process request, already in
    // system:authenticated (so authentication answers with it as it is).
    static const auto kLoopback = std::make_shared<const net::ClientIdentity>(net::ClientIdentity{
        "system:apiserver", {"system:masters", "system:authenticated"}, {}, {}});
    req.client = kLoopback;
    try {
      res = server_.handle(req);
      return true;
    } catch (const ApiError& e) {
      failWith(e, result);
    } catch (const std::exception& e) {
      SKIFF_LOG_ERROR("handler failed method={} path={} error=\"{}\"", method, req.path, e.what());
      failWith(internalError(e.what()), result);
    }
    return false;
  }

  static void fill(const HttpResponse& res, HttpResult& result) {
    result.status = res.status;
    result.contentType = res.contentType;
    for (const auto& [name, value] : res.headers)
      if (name == "Retry-After") result.headers.emplace_back(name, value);
  }

  static void failWith(const ApiError& e, HttpResult& result) {
    result.status = e.code();
    result.contentType = "application/json";
    result.body = boost::json::serialize(e.toStatus());
  }

  apiserver::ApiServer& server_;
  std::string userAgent_;
};

}  // namespace

std::shared_ptr<client::LocalEndpoint> makeLocalEndpoint(apiserver::ApiServer& server,
                                                         std::string userAgent) {
  return std::make_shared<InProcessEndpoint>(server, std::move(userAgent));
}

}  // namespace skiff::cli
