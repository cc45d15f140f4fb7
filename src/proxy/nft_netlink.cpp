#include "proxy/nft_netlink.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "proxy/nft_rules.h"

namespace skiff::proxy {

namespace {

enum class Field { ipv4, proto, port, index };

struct Layout {
  std::vector<Field> key, data;
  bool verdict = false;
};

bool startsWith(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

// The field layout of each container nft_rules.cpp declares.
Layout layoutOf(const std::string& container) {
  using F = Field;
  if (container == "cluster-ips") return {{F::ipv4}, {}, false};
  if (container == "service-ips" || container == "no-endpoint-services")
    return {{F::ipv4, F::proto, F::port}, {}, true};
  if (container == "service-nodeports" || container == "no-endpoint-nodeports")
    return {{F::proto, F::port}, {}, true};
  if (startsWith(container, "service-endpoints-"))
    return {{F::ipv4, F::proto, F::port, F::index}, {F::ipv4, F::port}, false};
  if (startsWith(container, "nodeport-endpoints-"))
    return {{F::proto, F::port, F::index}, {F::ipv4, F::port}, false};
  if (container == "hairpin") return {{F::ipv4, F::ipv4}, {}, false};
  throw std::invalid_argument("no netlink layout for set " + container);
}

std::vector<std::string> splitConcat(const std::string& text) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    auto dot = text.find(" . ", start);
    parts.push_back(text.substr(start, dot == std::string::npos ? dot : dot - start));
    if (dot == std::string::npos) return parts;
    start = dot + 3;
  }
}

uint32_t number(const std::string& s, uint32_t max) {
  size_t used = 0;
  unsigned long v = std::stoul(s, &used);
  if (used != s.size() || v > max) throw std::invalid_argument("bad number " + s);
  return static_cast<uint32_t>(v);
}

// A single field is its own size (a 4-byte address); in a concatenation every field takes
// a multiple of 4 bytes, as the kernel's registers do.
std::vector<uint8_t> encode(const std::vector<Field>& fields, const std::string& text) {
  auto parts = splitConcat(text);
  if (parts.size() != fields.size())
    throw std::invalid_argument("element '" + text + "' does not fit the set's layout");
  std::vector<uint8_t> out;
  for (size_t i = 0; i < fields.size(); ++i) {
    uint8_t word[4] = {0, 0, 0, 0};
    const std::string& p = parts[i];
    switch (fields[i]) {
      case Field::ipv4: {
        in_addr a{};
        if (inet_pton(AF_INET, p.c_str(), &a) != 1) throw std::invalid_argument("bad address " + p);
        std::memcpy(word, &a, 4);
        break;
      }
      case Field::proto:
        word[0] = p == "tcp" ? 6 : p == "udp" ? 17 : p == "sctp" ? 132 : 0;
        if (!word[0]) throw std::invalid_argument("bad protocol " + p);
        break;
      case Field::port: {
        uint16_t port = htons(static_cast<uint16_t>(number(p, 65535)));
        std::memcpy(word, &port, 2);
        break;
      }
      case Field::index: {
        uint32_t index = number(p, 0xffffffffu);  // numgen's result: host byte order
        std::memcpy(word, &index, 4);
        break;
      }
    }
    out.insert(out.end(), word, word + 4);
  }
  return out;
}

struct SetDeleter {
  void operator()(nftnl_set* s) const { nftnl_set_free(s); }
};

}  // namespace

std::vector<uint8_t> encodeElementKey(const std::string& container, const std::string& key) {
  return encode(layoutOf(container).key, key);
}

std::vector<uint8_t> encodeElementData(const std::string& container, const std::string& value) {
  auto layout = layoutOf(container);
  if (layout.data.empty()) throw std::invalid_argument(container + " has no data");
  return encode(layout.data, value);
}

NftNetlink::NftNetlink() {
  nl_ = mnl_socket_open(NETLINK_NETFILTER);
  if (!nl_) throw std::runtime_error(std::string("netlink socket: ") + std::strerror(errno));
  if (mnl_socket_bind(nl_, 0, MNL_SOCKET_AUTOPID) < 0) {
    mnl_socket_close(nl_);
    throw std::runtime_error(std::string("netlink bind: ") + std::strerror(errno));
  }
  portId_ = mnl_socket_get_portid(nl_);
  int fd = mnl_socket_get_fd(nl_);
  int one = 1;
  // Errors without the (large) request echoed back.
  setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  int rcv = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof rcv);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

NftNetlink::~NftNetlink() {
  if (nl_) mnl_socket_close(nl_);
}

std::string NftNetlink::commit(const std::vector<std::string>& flush,
                               const std::vector<ElementChange>& changes) {
  // Messages are built into one buffer: batch begin, one message per container run of up
  // to kChunk elements (a message's element list is a 16-bit-long netlink attribute), end.
  constexpr size_t kChunk = 128;
  std::vector<char> buf(64 * 1024);
  size_t used = 0;
  auto room = [&](size_t need) {
    if (buf.size() - used < need) buf.resize(std::max(buf.size() * 2, used + need));
    return buf.data() + used;
  };
  auto finish = [&](nlmsghdr* nlh) { used += NLMSG_ALIGN(nlh->nlmsg_len); };
  int acks = 0;
  finish(nftnl_batch_begin(room(4096), seq_++));
  for (auto& name : flush) {
    // A DELSETELEM without an element list empties the set.
    auto* nlh =
        nftnl_nlmsg_build_hdr(room(4096), NFT_MSG_DELSETELEM, NFPROTO_IPV4, NLM_F_ACK, seq_++);
    mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, kTable);
    mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, name.c_str());
    finish(nlh);
    ++acks;
  }
  for (size_t i = 0; i < changes.size();) {
    const auto& first = changes[i];
    const Layout layout = layoutOf(first.container);
    std::unique_ptr<nftnl_set, SetDeleter> set(nftnl_set_alloc());
    nftnl_set_set_str(set.get(), NFTNL_SET_TABLE, kTable);
    nftnl_set_set_str(set.get(), NFTNL_SET_NAME, first.container.c_str());
    nftnl_set_set_u32(set.get(), NFTNL_SET_FAMILY, NFPROTO_IPV4);
    size_t n = 0;
    for (; i < changes.size() && n < kChunk && changes[i].container == first.container &&
           changes[i].add == first.add;
         ++i, ++n) {
      const auto& c = changes[i];
      auto* e = nftnl_set_elem_alloc();
      auto key = encode(layout.key, c.key);
      nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key.data(), key.size());
      if (c.add && layout.verdict) {
        if (startsWith(c.value, "goto ")) {
          nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT, static_cast<uint32_t>(NFT_GOTO));
          nftnl_set_elem_set_str(e, NFTNL_SET_ELEM_CHAIN, c.value.substr(5).c_str());
        } else if (c.value == "drop") {
          nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT, NF_DROP);
        } else if (c.value == "accept") {
          nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT, NF_ACCEPT);
        } else {
          nftnl_set_elem_free(e);
          throw std::invalid_argument("verdict '" + c.value + "' not supported");
        }
      } else if (c.add && !layout.data.empty()) {
        auto data = encode(layout.data, c.value);
        nftnl_set_elem_set(e, NFTNL_SET_ELEM_DATA, data.data(), data.size());
      }
      nftnl_set_elem_add(set.get(), e);
    }
    auto* nlh =
        nftnl_nlmsg_build_hdr(room(64 * 1024), first.add ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM,
                              NFPROTO_IPV4, (first.add ? NLM_F_CREATE : 0) | NLM_F_ACK, seq_++);
    nftnl_set_elems_nlmsg_build_payload(nlh, set.get());
    finish(nlh);
    ++acks;
  }
  finish(nftnl_batch_end(room(4096), seq_++));

  int fd = mnl_socket_get_fd(nl_);
  int size = static_cast<int>(used) + 4096;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size);
  if (mnl_socket_sendto(nl_, buf.data(), used) < 0)
    return std::string("netlink send: ") + std::strerror(errno);

  // One acknowledgement (or error) per message; the kernel applies all or none.
  std::string error;
  std::vector<char> in(64 * 1024);
  while (acks > 0) {
    ssize_t len = mnl_socket_recvfrom(nl_, in.data(), in.size());
    if (len < 0) {
      if (error.empty()) error = std::string("netlink receive: ") + std::strerror(errno);
      break;
    }
    auto* nlh = reinterpret_cast<const nlmsghdr*>(in.data());
    int remaining = static_cast<int>(len);
    for (; mnl_nlmsg_ok(nlh, remaining); nlh = mnl_nlmsg_next(nlh, &remaining)) {
      if (nlh->nlmsg_type != NLMSG_ERROR) continue;
      --acks;
      auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
      if (err->error != 0 && error.empty())
        error = std::string("nf_tables: ") + std::strerror(-err->error);
    }
    if (!error.empty()) {
      // The rest of the answers (if any) are drained by the next commit's stale check.
      timeval tv{0, 200000};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
  }
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return error;
}

}  // namespace skiff::proxy
