#include <openssl/x509.h>

#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "net/http_connection_impl.h"

namespace skiff::net::detail {

namespace {

// The verified client certificate's CN and O entries (the user and groups later).
ClientIdentity peerIdentity(SSL* ssl) {
  ClientIdentity id;
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (!cert) return id;
  if (SSL_get_verify_result(ssl) == X509_V_OK) {
    X509_NAME* name = X509_get_subject_name(cert);
    for (int i = 0; i < X509_NAME_entry_count(name); ++i) {
      X509_NAME_ENTRY* entry = X509_NAME_get_entry(name, i);
      int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(entry));
      unsigned char* utf8 = nullptr;
      int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry));
      if (len < 0) continue;
      std::string value(reinterpret_cast<char*>(utf8), len);
      OPENSSL_free(utf8);
      if (nid == NID_commonName) id.user = value;
      if (nid == NID_organizationName) id.groups.push_back(value);
    }
  }
  X509_free(cert);
  return id;
}

}  // namespace

awaitable<void> serveTls(tcp::socket socket, asio::ssl::context& tls,
                         const ConnectionContext& ctx) {
  // A TLS stream costs ~85 KB (OpenSSL's state and Asio's 17 KB record buffers): create it
  // only once the client sent its first byte, so thousands of connections that never speak
  // cost a socket each, and drop them after the handshake timeout.
  {
    asio::steady_timer deadline(socket.get_executor());
    deadline.expires_after(std::chrono::seconds(30));
    deadline.async_wait([&socket](boost::system::error_code ec) {
      if (!ec) {
        boost::system::error_code ignored;
        socket.cancel(ignored);
      }
    });
    char first = 0;
    auto [pec, pn] =
        co_await socket.async_receive(asio::buffer(&first, 1), tcp::socket::message_peek, kTuple);
    (void)pn;
    deadline.cancel();
    if (pec) co_return;
  }
  boost::beast::ssl_stream<boost::beast::tcp_stream> stream(
      boost::beast::tcp_stream(std::move(socket)), tls);
  boost::beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
  auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kTuple);
  if (ec) co_return;  // plain-HTTP clients and scanners end here
  boost::beast::get_lowest_layer(stream).expires_never();
  // The certificate's identity, shared by every request on the connection.
  std::shared_ptr<const ClientIdentity> identity;
  if (ClientIdentity peer = peerIdentity(stream.native_handle()); !peer.user.empty())
    identity = std::make_shared<const ClientIdentity>(std::move(peer));
  co_await serveConnection(std::move(stream), std::move(identity), ctx);
}

}  // namespace skiff::net::detail
