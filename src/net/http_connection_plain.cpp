#include "net/http_connection_impl.h"

namespace skiff::net::detail {

awaitable<void> servePlain(tcp::socket socket, const ConnectionContext& ctx) {
  // Named locals, not temporaries: GCC 12 mis-destroys temporaries passed by value into a
  // coroutine's parameters.
  boost::beast::tcp_stream stream(std::move(socket));
  std::shared_ptr<const ClientIdentity> identity;  // none: plain HTTP has no certificate
  co_await serveConnection(std::move(stream), std::move(identity), ctx);
}

}  // namespace skiff::net::detail
