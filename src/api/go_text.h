// Go-compatible text formatting. Upstream error messages embed values printed by Go's fmt
// (%q, %v of decoded JSON); clients and tests compare these strings, so we reproduce them.
#pragma once

#include <boost/json/fwd.hpp>
#include <string>
#include <string_view>

namespace skiff::api {

// Go's %q (strconv.Quote): double-quoted, with escapes for quotes, backslashes and
// non-printable bytes; valid UTF-8 is kept as is.
std::string goQuote(std::string_view s);

// Go's %v of a value decoded from JSON into interface{}: maps print as map[k:v ...] with
// sorted keys, lists as [a b], null as <nil>, strings unquoted.
std::string goFormat(const boost::json::value& v);

}  // namespace skiff::api
