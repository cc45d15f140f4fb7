#include "apiserver/http_types.h"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

namespace skiff::apiserver {

bool parseTarget(HttpRequest& req) {
  auto parsed = boost::urls::parse_origin_form(req.target);
  if (!parsed) return false;
  req.path = parsed->path();
  for (auto param : parsed->params()) req.query.emplace(param.key, param.value);
  return true;
}

}  // namespace skiff::apiserver
