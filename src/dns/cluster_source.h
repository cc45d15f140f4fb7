// Feeds the record index from Service and EndpointSlice informers: each event recomputes
// the records of the one Service it touches (cluster_records.h) and replaces them in the
// index, so queries never scan objects.
#pragma once
#include <boost/json/object.hpp>
#include <mutex>
#include <string>

#include "client/informer.h"
#include "dns/record_index.h"

namespace skiff::dns {

class ClusterSource {
 public:
  explicit ClusterSource(RecordIndex& index) : index_(index) {}
  // Registers the handlers on the factory's (shared) informers of Services and
  // EndpointSlices; the caller starts the factory.
  void attach(client::SharedInformerFactory& informers);
  bool waitForSync(std::chrono::milliseconds timeout) const;

 private:
  void serviceChanged(const boost::json::object& obj);
  void sliceChanged(const boost::json::object& obj);
  void recompute(const std::string& ns, const std::string& name);

  RecordIndex& index_;
  std::mutex mu_;  // one recompute at a time: the later one reads the newer state
  client::SharedInformer* services_ = nullptr;
  client::SharedInformer* slices_ = nullptr;
};

}  // namespace skiff::dns
