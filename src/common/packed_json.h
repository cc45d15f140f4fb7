// Packed JSON objects: a copy of an object whose every node (tables, arrays, strings) lives
// in ONE exactly-sized heap block, for objects that are kept long and never modified (the
// watch cache's objects). A parsed Pod of ~4 KB of text takes ~12 KB of nodes; allocated
// node by node, glibc's per-allocation header and rounding add ~5 KB more (≈ 300
// allocations). Packed, the overhead is one block.
//
// The copy's memory resource stays usable: copies made from a packed object (boost::json
// copies keep the source's resource) and changes to them allocate from the ordinary heap,
// and freeing nodes inside the block is a no-op. A copy keeps the block alive as long as it
// lives, so code that keeps a copy of a cached object for long should copy it into the
// default resource (`json::object(src, {})`).
#pragma once

#include <boost/json/object.hpp>
#include <memory>

namespace skiff {

// A packed copy of `obj`. Thread-safe: reading, copying and destroying a
// packed object from any thread needs no locking beyond what a shared const object needs.
std::shared_ptr<boost::json::object> packJson(const boost::json::object& obj);

// Bytes the packed copy of `obj` occupies in its block (tests, benchmarks).
size_t packedJsonBytes(const boost::json::object& obj);

// Bytes of all packed blocks alive in this process (in an API server: the watch cache's
// current objects, which in-process informers share, plus the few a write or a holder of an
// old state still keeps). A gauge for benchmarks and /metrics.
size_t packedJsonBytesAlive();

}  // namespace skiff
