// The static token file of --token-auth-file, upstream's CSV: token,user,uid[,"g1,g2"].
#pragma once

#include <map>
#include <string>

#include "apiserver/auth/authorizer.h"

namespace skiff::apiserver::auth {

// token → user; looked up by a view of the request's bearer token (std::less<>).
using StaticTokens = std::map<std::string, UserInfo, std::less<>>;

// token → user. Throws std::runtime_error naming the file and record for a record with
// fewer than 3 columns, an empty token or user, or unbalanced quotes (the server then
// refuses to start, as upstream). Empty lines are skipped; a repeated token keeps the last.
StaticTokens parseTokenFile(const std::string& text, const std::string& path);

}  // namespace skiff::apiserver::auth
