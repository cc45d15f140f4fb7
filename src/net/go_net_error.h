// Network errors in Go's wording ("connection refused", "i/o timeout", "EOF"): the API
// server relays kubelet connection failures the way upstream's proxies print them.
#pragma once
#include <boost/system/error_code.hpp>
#include <string>

namespace skiff::net {

std::string goNetErrorMessage(const boost::system::error_code& ec);

}  // namespace skiff::net

namespace skiff::apiserver {
using namespace skiff::net;  // NOLINT(google-build-using-namespace)
}  // namespace skiff::apiserver
