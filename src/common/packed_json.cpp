#include "common/packed_json.h"

#include <atomic>
#include <boost/json/memory_resource.hpp>
#include <boost/json/storage_ptr.hpp>
#include <cstdint>
#include <new>
#include <vector>

namespace skiff {
namespace json = boost::json;

namespace {

constexpr size_t alignUp(size_t n, size_t align) { return (n + align - 1) & ~(align - 1); }

std::atomic<size_t> bytesAlive{0};

// Counts what a copy allocates (offsets laid out exactly as PackedResource lays them) and
// hands out memory from per-thread scratch chunks that are reused, never moved and never
// freed one by one, so the measuring copy costs no heap traffic.
class MeasuringResource final : public json::memory_resource {
 public:
  MeasuringResource() { scratch().rewind(); }
  size_t used() const { return used_; }

 private:
  struct Scratch {
    static constexpr size_t kChunk = 64 * 1024;
    std::vector<std::unique_ptr<std::max_align_t[]>> chunks;
    std::vector<std::unique_ptr<std::max_align_t[]>> large;  // nodes bigger than a chunk
    size_t chunk = 0;
    size_t offset = 0;
    void rewind() {
      chunk = 0;
      offset = 0;
      large.clear();
    }
    void* take(size_t n, size_t align) {
      auto words = [](size_t bytes) {
        return (bytes + sizeof(std::max_align_t) - 1) / sizeof(std::max_align_t);
      };
      if (n > kChunk) return large.emplace_back(new std::max_align_t[words(n)]).get();
      offset = alignUp(offset, align);
      if (chunks.empty() || offset + n > kChunk) {
        if (!chunks.empty()) ++chunk;
        if (chunk == chunks.size()) chunks.emplace_back(new std::max_align_t[words(kChunk)]);
        offset = 0;
      }
      void* p = reinterpret_cast<char*>(chunks[chunk].get()) + offset;
      offset += n;
      return p;
    }
  };
  static Scratch& scratch() {
    thread_local Scratch s;
    return s;
  }
  void* do_allocate(size_t n, size_t align) override {
    used_ = alignUp(used_, align) + n;
    return scratch().take(n, align);
  }
  void do_deallocate(void*, size_t, size_t) override {}
  bool do_is_equal(const json::memory_resource& other) const noexcept override {
    return this == &other;
  }
  size_t used_ = 0;
};

// One block filled front to back while the copy is made; after seal(), allocations go to
// the heap and frees of nodes inside the block do nothing. Only the copying thread uses it
// before seal(); afterwards every member it reads is immutable.
class PackedResource final : public json::memory_resource {
 public:
  // `self` receives this object's address: make_shared_resource wraps it in a holder whose
  // storage_ptr::get() is the holder, not this.
  PackedResource(size_t bytes, PackedResource** self)
      : block_(static_cast<char*>(::operator new (bytes, std::align_val_t{kAlign}))), size_(bytes) {
    *self = this;
    bytesAlive.fetch_add(size_, std::memory_order_relaxed);
  }
  ~PackedResource() override {
    bytesAlive.fetch_sub(size_, std::memory_order_relaxed);
    ::operator delete (block_, std::align_val_t{kAlign});
  }
  void seal() { sealed_ = true; }

 private:
  static constexpr size_t kAlign = alignof(std::max_align_t);
  void* do_allocate(size_t n, size_t align) override {
    if (!sealed_) {
      size_t at = alignUp(used_, align);
      if (at + n <= size_ && align <= kAlign) {
        used_ = at + n;
        return block_ + at;
      }
    }
    return ::operator new (n, std::align_val_t{std::max(align, kAlign)});
  }
  void do_deallocate(void* p, size_t, size_t align) override {
    auto* c = static_cast<char*>(p);
    if (c >= block_ && c < block_ + size_) return;
    ::operator delete (p, std::align_val_t{std::max(align, kAlign)});
  }
  bool do_is_equal(const json::memory_resource& other) const noexcept override {
    return this == &other;
  }

  char* const block_;
  const size_t size_;
  size_t used_ = 0;
  bool sealed_ = false;
};

}  // namespace

size_t packedJsonBytes(const json::object& obj) {
  MeasuringResource measure;
  { json::object copy(obj, json::storage_ptr(&measure)); }
  return measure.used();
}

size_t packedJsonBytesAlive() { return bytesAlive.load(std::memory_order_relaxed); }

std::shared_ptr<json::object> packJson(const json::object& obj) {
  const size_t bytes = packedJsonBytes(obj);
  PackedResource* resource = nullptr;
  auto sp = json::make_shared_resource<PackedResource>(bytes ? bytes : 1, &resource);
  auto packed = std::make_shared<json::object>(obj, sp);
  resource->seal();
  return packed;
}

}  // namespace skiff
