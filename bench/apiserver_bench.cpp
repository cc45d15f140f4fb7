// End-to-end API server benchmark: drives a running skiff over keep-alive HTTP connections
// and reports throughput and latency percentiles. Not a test: it prints numbers.
//
//   apiserver_bench --server 127.0.0.1:6443 --pods 10000 --threads 16 [--pid PID]
//
// Phases: concurrent create of N pods; gets of random pods; list of all pods (JSON and
// Table); watch fan-out (W watchers, event delivery latency); server RSS (with --pid).
#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

std::string host = "127.0.0.1", port = "6443";

struct Conn {
  net::io_context ioc;
  boost::beast::tcp_stream stream{ioc};
  boost::beast::flat_buffer buffer;
  Conn() {
    tcp::resolver resolver(ioc);
    stream.connect(resolver.resolve(host, port));
    stream.socket().set_option(tcp::no_delay(true));
  }
  http::response<http::string_body> request(http::verb verb, const std::string& target,
                                            const std::string& body = "",
                                            const std::string& accept = "application/json") {
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, host);
    req.set(http::field::accept, accept);
    if (!body.empty()) {
      req.set(http::field::content_type, "application/json");
      req.body() = body;
    }
    req.prepare_payload();
    http::write(stream, req);
    // Lists of 10,000 pods exceed Beast's default 8 MB body limit.
    http::response_parser<http::string_body> parser;
    parser.body_limit(boost::none);
    http::read(stream, buffer, parser);
    return parser.release();
  }
};

std::string podJson(const std::string& name) {
  return R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name +
         R"(","labels":{"app":"bench"}},"spec":{"containers":[{"name":"c","image":"busybox:1.36","resources":{"requests":{"cpu":"10m","memory":"16Mi"}}}]}})";
}

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

void report(const std::string& what, std::vector<double>& lat, double seconds) {
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double p) {
    return lat.empty() ? 0 : lat[std::min(lat.size() - 1, size_t(p * lat.size()))];
  };
  std::printf("%-28s n=%-7zu %9.0f ops/s  p50=%.2fms p90=%.2fms p99=%.2fms max=%.2fms\n",
              what.c_str(), lat.size(), lat.size() / seconds, pct(0.5), pct(0.9), pct(0.99),
              lat.empty() ? 0 : lat.back());
}

template <class Fn>
void parallel(int threads, int total, const std::string& what, Fn fn) {
  std::vector<std::vector<double>> lats(threads);
  std::atomic<int> next{0};
  auto start = Clock::now();
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      Conn c;
      for (int i; (i = next++) < total;) {
        auto s = Clock::now();
        fn(c, i);
        lats[t].push_back(ms(Clock::now() - s));
      }
    });
  for (auto& t : ts) t.join();
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (auto& l : lats) all.insert(all.end(), l.begin(), l.end());
  report(what, all, seconds);
}

long rssKb(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  int pods = 10000, threads = 16, watchers = 100, pid = 0, gets = 50000, lists = 20;
  std::string ns = "default";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i], v = argv[i + 1];
    if (a == "--server") {
      host = v.substr(0, v.rfind(':'));
      port = v.substr(v.rfind(':') + 1);
    } else if (a == "--pods")
      pods = std::stoi(v);
    else if (a == "--threads")
      threads = std::stoi(v);
    else if (a == "--watchers")
      watchers = std::stoi(v);
    else if (a == "--gets")
      gets = std::stoi(v);
    else if (a == "--lists")
      lists = std::stoi(v);
    else if (a == "--pid")
      pid = std::stoi(v);
    else if (a == "--namespace")
      ns = v;
  }
  const std::string base = "/api/v1/namespaces/" + ns + "/pods";
  if (pid) std::printf("server RSS at start: %.1f MB\n", rssKb(pid) / 1024.0);

  std::atomic<int> failures{0};
  parallel(threads, pods, "create pod", [&](Conn& c, int i) {
    auto res = c.request(http::verb::post, base, podJson("bench-" + std::to_string(i)));
    if (res.result_int() != 201) ++failures;
  });
  std::printf("create failures: %d\n", failures.load());
  if (pid) std::printf("server RSS after %d pods: %.1f MB\n", pods, rssKb(pid) / 1024.0);

  parallel(threads, gets, "get pod", [&](Conn& c, int i) {
    auto res = c.request(http::verb::get, base + "/bench-" + std::to_string((i * 7919) % pods));
    if (res.result_int() != 200) ++failures;
  });
  parallel(1, lists, "list pods (JSON)", [&](Conn& c, int) {
    auto res = c.request(http::verb::get, base);
    if (res.result_int() != 200) ++failures;
  });
  parallel(1, lists, "list pods (Table)", [&](Conn& c, int) {
    auto res = c.request(http::verb::get, base, "",
                         "application/json;as=Table;v=v1;g=meta.k8s.io,application/json");
    if (res.result_int() != 200) ++failures;
  });

  // Watch fan-out: W watchers on configmaps; each event carries its send time.
  {
    std::string cmBase = "/api/v1/namespaces/" + ns + "/configmaps";
    Conn setup;
    auto list = setup.request(http::verb::get, cmBase + "?limit=1");
    std::string rv =
        boost::json::parse(list.body()).at("metadata").at("resourceVersion").as_string().c_str();
    const int events = 50;
    std::mutex mu;
    std::vector<double> lat;
    std::vector<std::thread> ts;
    std::atomic<int> ready{0};
    for (int w = 0; w < watchers; ++w)
      ts.emplace_back([&] {
        Conn c;
        http::request<http::empty_body> req{http::verb::get,
                                            cmBase + "?watch=true&resourceVersion=" + rv, 11};
        req.set(http::field::host, host);
        http::write(c.stream, req);
        http::response_parser<http::buffer_body> parser;
        parser.body_limit(boost::none);
        http::read_header(c.stream, c.buffer, parser);
        ++ready;
        std::string pending;
        int seen = 0;
        char buf[65536];
        while (seen < events) {
          parser.get().body().data = buf;
          parser.get().body().size = sizeof buf;
          boost::system::error_code ec;
          http::read_some(c.stream, c.buffer, parser, ec);
          if (ec && ec != http::error::need_buffer) break;
          pending.append(buf, sizeof buf - parser.get().body().size);
          size_t nl;
          while ((nl = pending.find('\n')) != std::string::npos) {
            auto ev = boost::json::parse(pending.substr(0, nl));
            pending.erase(0, nl + 1);
            auto sent = std::stoll(std::string(ev.at("object").at("data").at("t").as_string()));
            double d = (std::chrono::duration_cast<std::chrono::microseconds>(
                            Clock::now().time_since_epoch())
                            .count() -
                        sent) /
                       1000.0;
            std::lock_guard l(mu);
            lat.push_back(d);
            ++seen;
          }
        }
      });
    while (ready < watchers) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    auto start = Clock::now();
    for (int i = 0; i < events; ++i) {
      auto t =
          std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch())
              .count();
      setup.request(http::verb::post, cmBase,
                    R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"watch-)" +
                        std::to_string(i) + R"("},"data":{"t":")" + std::to_string(t) + R"("}})");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    for (auto& t : ts) t.join();
    report("watch delivery (" + std::to_string(watchers) + " watchers)", lat,
           std::chrono::duration<double>(Clock::now() - start).count());
  }
  if (pid) std::printf("server RSS at end: %.1f MB\n", rssKb(pid) / 1024.0);
  std::printf("failures: %d\n", failures.load());
  return failures ? 1 : 0;
}
