#include "apiserver/http_connection_impl.h"

namespace skiff::apiserver::detail {

awaitable<void> servePlain(tcp::socket socket, const ConnectionContext& ctx) {
  co_await serveConnection(boost::beast::tcp_stream(std::move(socket)), ClientIdentity{}, ctx);
}

}  // namespace skiff::apiserver::detail
