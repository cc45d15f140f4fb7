// EventRecorder: writes core/v1 Events about objects, as client-go's record package does.
//
// event() only queues (bounded at 1000 like client-go's broadcaster; beyond that events are
// dropped with a log line), so callers never wait on the API server. A background thread,
// started by the first event, correlates and writes:
// - repeats (same source, involvedObject, type, reason, message) PATCH the existing
//   Event's count/lastTimestamp instead of creating a new one;
// - more than 10 events within 10 minutes that differ only by message are folded into one
//   "(combined from similar events): ..." Event;
// - a per-(source, object) token bucket (burst 25, one token per 5 minutes) drops spam.
#pragma once
#include <boost/json/object.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <list>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "client/rest_client.h"

namespace skiff::client {

inline const std::string kEventTypeNormal = "Normal";
inline const std::string kEventTypeWarning = "Warning";

class EventRecorder {
 public:
  // `client` must outlive the recorder; `component` is source.component (e.g.
  // "default-scheduler", "kubelet"), `host` is source.host (the node name for kubelets).
  EventRecorder(RestClient& client, std::string component, std::string host = "");
  ~EventRecorder();  // writes what is queued (bounded by a short deadline), then stops
  EventRecorder(const EventRecorder&) = delete;
  EventRecorder& operator=(const EventRecorder&) = delete;

  // `object` is the object itself (its metadata is used) or an ObjectReference.
  void event(const boost::json::object& object, const std::string& type, const std::string& reason,
             const std::string& message);
  // Waits until everything queued so far is written; false on timeout.
  bool flush(std::chrono::milliseconds timeout);

 private:
  struct Pending {
    boost::json::object ref;
    std::string type, reason, message;
    std::chrono::system_clock::time_point time;
  };
  struct Written {  // what the server holds for one de-duplication key
    std::string name, ns;
    int64_t count = 0;
    std::string firstTimestamp;
  };
  struct Similar {  // distinct messages seen for one aggregation key
    std::unordered_map<std::string, bool> messages;
    std::chrono::steady_clock::time_point since;
  };
  struct Bucket {
    double tokens;
    std::chrono::steady_clock::time_point last;
  };

  void run();
  void write(Pending p);
  bool allow(const std::string& sourceObjectKey);

  RestClient& client_;
  const std::string component_, host_;
  std::mutex mu_;
  std::condition_variable cv_, drained_;
  std::deque<Pending> queue_;
  bool busy_ = false, stopping_ = false;
  // Correlator state; touched only by the writer thread. Bounded LRU (4096, as client-go).
  std::list<std::string> lru_;
  std::unordered_map<std::string, std::pair<Written, std::list<std::string>::iterator>> written_;
  std::unordered_map<std::string, Similar> similar_;
  std::unordered_map<std::string, Bucket> buckets_;
  std::thread thread_;  // the writer, started by the first event() (under mu_)
};

}  // namespace skiff::client
