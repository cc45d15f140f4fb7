// The Store wrapper of encryption at rest (storage/encryption.h): values are transformed on
// the way in and back on every way out, so nothing above the Store sees ciphertext.
#include "common/log.h"
#include "storage/encryption.h"

namespace skiff::storage {

namespace {

class EncryptedStore : public Store {
 public:
  EncryptedStore(StorePtr inner, std::shared_ptr<const ValueTransformer> t)
      : inner_(std::move(inner)), t_(std::move(t)) {}

  int64_t currentRevision() override { return inner_->currentRevision(); }
  int64_t compactedRevision() override { return inner_->compactedRevision(); }

  std::optional<KeyValue> get(std::string_view key, int64_t revision) override {
    auto kv = inner_->get(key, revision);
    if (kv) decrypt(*kv);
    return kv;
  }
  RangeResult range(std::string_view key, std::string_view rangeEnd, int64_t limit,
                    int64_t revision) override {
    auto r = inner_->range(key, rangeEnd, limit, revision);
    for (auto& kv : r.kvs) decrypt(kv);
    return r;
  }
  WriteResult create(std::string_view key, std::string_view value, WriteHintPtr hint) override {
    return finish(inner_->create(key, t_->toStorage(key, value), std::move(hint)), value);
  }
  WriteResult update(std::string_view key, std::string_view value, int64_t expectedModRevision,
                     WriteHintPtr hint) override {
    return finish(
        inner_->update(key, t_->toStorage(key, value), expectedModRevision, std::move(hint)),
        value);
  }
  WriteResult remove(std::string_view key, int64_t expectedModRevision) override {
    auto r = inner_->remove(key, expectedModRevision);
    if (r.kv) decrypt(*r.kv);
    return r;
  }
  WatchPtr watch(std::string_view key, std::string_view rangeEnd, int64_t fromRevision,
                 WatchCallback callback, WatchDelivery delivery) override {
    auto t = t_;
    return inner_->watch(
        key, rangeEnd, fromRevision,
        [t, callback = std::move(callback)](const std::vector<Event>& events) {
          // Most batches carry no encrypted value: hand them on without a copy.
          bool any = false;
          for (const auto& e : events)
            if (isEncryptedValue(e.kv.value) || (e.prev && isEncryptedValue(e.prev->value))) {
              any = true;
              break;
            }
          if (!any) return callback(events);
          std::vector<Event> plain = events;
          for (auto& e : plain) {
            decryptLogged(*t, e.kv);
            if (e.prev) decryptLogged(*t, *e.prev);
          }
          callback(plain);
        },
        delivery);
  }
  void compact(int64_t revision) override { inner_->compact(revision); }

 private:
  void decrypt(KeyValue& kv) const {
    if (kv.value.empty()) return;
    if (!isEncryptedValue(kv.value) && t_->readsPlainEverywhere()) return;
    kv.value = t_->fromStorage(kv.key, kv.value);
  }
  // A watch cannot fail one event: the value stays as stored (the watch cache then reports
  // it as undecodable) and the reason is logged.
  static void decryptLogged(const ValueTransformer& t, KeyValue& kv) {
    if (kv.value.empty()) return;
    try {
      kv.value = t.fromStorage(kv.key, kv.value);
    } catch (const std::exception& e) {
      SKIFF_LOG_ERROR("cannot decrypt stored value key={} error=\"{}\"", kv.key, e.what());
    }
  }
  // A write's answer carries plaintext: the value just written, or the current one.
  WriteResult finish(WriteResult r, std::string_view plain) const {
    if (!r.kv) return r;
    if (r.succeeded)
      r.kv->value = std::string(plain);
    else
      decrypt(*r.kv);
    return r;
  }

  StorePtr inner_;
  std::shared_ptr<const ValueTransformer> t_;
};

}  // namespace

StorePtr encryptStore(StorePtr inner, std::shared_ptr<const ValueTransformer> transformer) {
  return std::make_unique<EncryptedStore>(std::move(inner), std::move(transformer));
}

}  // namespace skiff::storage
