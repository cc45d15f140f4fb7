// What the bearer-token authenticators share: the answer for one token, and how they read
// the objects a token depends on (ServiceAccounts, Pods, Secrets) from the watch cache.
#pragma once

#include <boost/json/fwd.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "apiserver/auth/authorizer.h"

namespace skiff::apiserver::auth {

// (core-group resource, namespace, name) → the current object, or null when there is none.
using ObjectLookup = std::function<std::shared_ptr<const boost::json::object>(
    const std::string& resource, const std::string& ns, const std::string& name)>;
// Seconds since the epoch (a test moves it).
using UnixClock = std::function<int64_t()>;
int64_t systemUnixSeconds();

struct TokenResult {
  enum Outcome {
    NotMine,        // not this authenticator's kind of token: the next one may know it
    Refused,        // its kind, but invalid (error says why): the request is unauthorized
    Authenticated,  // user (and audiences) are set
  } outcome = NotMine;
  // Shared, not copied: a cached token's user serves each of its requests as it is.
  std::shared_ptr<const UserInfo> user;
  std::vector<std::string> audiences;
  std::string error;

  static TokenResult refused(std::string why) {
    TokenResult r;
    r.outcome = Refused;
    r.error = std::move(why);
    return r;
  }
};

}  // namespace skiff::apiserver::auth
