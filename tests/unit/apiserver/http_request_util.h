// A request as the HTTP layer hands it to handlers: method and target, query decoded.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "net/http_types.h"

namespace skiff::apiserver {

inline HttpRequest makeRequest(const std::string& method, const std::string& target) {
  HttpRequest req;
  req.method = method;
  req.target = target;
  EXPECT_TRUE(parseTarget(req)) << target;
  return req;
}

}  // namespace skiff::apiserver
