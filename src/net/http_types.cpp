#include "net/http_types.h"

#include <zlib.h>

#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include "api/json_indent.h"
#include "common/api_error.h"

namespace skiff::net {

bool parseTarget(HttpRequest& req) {
  auto parsed = boost::urls::parse_origin_form(req.target);
  if (!parsed) return false;
  req.path = parsed->path();
  for (auto param : parsed->params()) req.query.emplace(param.key, param.value);
  return true;
}

namespace {

// Go's strconv.ParseBool, as upstream reads `pretty`; anything else is false.
bool prettyRequested(const HttpRequest& req) {
  auto v = req.param("pretty");
  if (!v) return false;
  static const char* const kTrue[] = {"1", "t", "T", "TRUE", "true", "True"};
  for (const char* t : kTrue)
    if (*v == t) return true;
  return false;
}

bool acceptsGzip(const HttpRequest& req) {
  std::string enc = req.header("accept-encoding");
  for (auto& c : enc) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return enc.find("gzip") != std::string::npos;
}

// gzip at level 1, as upstream's compressing writer: large lists shrink ~10x for a few ms.
bool gzipInPlace(std::string& body) {
  z_stream zs{};
  if (deflateInit2(&zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return false;
  std::string out;
  out.resize(deflateBound(&zs, static_cast<uLong>(body.size())));
  zs.next_in = reinterpret_cast<Bytef*>(body.data());
  zs.avail_in = static_cast<uInt>(body.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  size_t written = zs.total_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return false;
  out.resize(written);
  body = std::move(out);
  return true;
}

}  // namespace

void finishApiObject(const HttpRequest& req, HttpResponse& res) {
  if (!res.apiObject || res.body.empty()) return;
  if (prettyRequested(req)) {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(res.body, ec);
    if (!ec) res.body = api::indentedJson(v);
  } else if (res.body.back() != '\n') {
    res.body.push_back('\n');
  }
  if (res.body.size() > kGzipThresholdBytes && acceptsGzip(req) && gzipInPlace(res.body)) {
    res.headers.emplace_back("Content-Encoding", "gzip");
    res.headers.emplace_back("Vary", "Accept-Encoding");
  }
}

HttpResponse statusResponse(const ApiError& error, const HttpRequest* req) {
  HttpResponse res;
  res.status = error.code();
  res.body = boost::json::serialize(error.toStatus());
  res.apiObject = true;
  if (req) {
    finishApiObject(*req, res);
  } else {
    res.body.push_back('\n');
  }
  return res;
}

}  // namespace skiff::net
