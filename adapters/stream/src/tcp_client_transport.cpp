// The TCP client transport: resolve, connect within connect_timeout, read until the peer goes
// away, then connect again with back-off.
//
//   open ─▶ async_resolve ─▶ on_resolved ─▶ async_connect ─┬─▶ on_connect ─▶ opened(socket)
//                                          connect_timer ──┘ (expiry closes the socket)
//   any failure ─▶ failed(why) ─▶ ReconnectingTransport back-off ─▶ open

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "reconnecting_transport.hpp"
#include "transports.hpp"

namespace guardian::adapters::stream::detail {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

class TcpClientTransport final : public ReconnectingTransport {
 public:
  TcpClientTransport(asio::io_context& io, const config::StreamAdapterConfig& config)
      : ReconnectingTransport(io, config),
        host_(config.host),
        port_(std::to_string(config.port)),
        connect_timeout_(config.connect_timeout),
        resolver_(io),
        socket_(io),
        connect_timer_(io) {}

 private:
  std::shared_ptr<TcpClientTransport> self() {
    return std::static_pointer_cast<TcpClientTransport>(shared_from_this());
  }

  void open() override {
    resolver_.async_resolve(
        host_, port_,
        [self = self()](boost::system::error_code ec, const tcp::resolver::results_type& results) {
          self->on_resolved(ec, results);
        });
  }

  void on_resolved(boost::system::error_code ec, const tcp::resolver::results_type& results) {
    if (ec == asio::error::operation_aborted || stopped()) return;
    if (ec) return failed("cannot resolve " + host_ + ": " + ec.message());
    socket_ = tcp::socket(io_);
    timed_out_ = false;
    connect_timer_.expires_after(connect_timeout_);
    connect_timer_.async_wait([self = self()](boost::system::error_code timer_ec) {
      if (timer_ec) return;  // cancelled: the connect finished first
      self->timed_out_ = true;
      boost::system::error_code ignored;
      self->socket_.close(ignored);
    });
    asio::async_connect(
        socket_, results,
        [self = self()](boost::system::error_code connect_ec, const tcp::endpoint& endpoint) {
          self->on_connect(connect_ec, endpoint);
        });
  }

  void on_connect(boost::system::error_code ec, const tcp::endpoint& endpoint) {
    connect_timer_.cancel();
    if (stopped()) return;
    const std::string where = host_ + ":" + port_;
    if (timed_out_)
      return failed("cannot connect to " + where + ": no answer within " +
                    std::to_string(connect_timeout_.count()) + " ms");
    if (ec) return failed("cannot connect to " + where + ": " + ec.message());
    boost::system::error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);
    opened(std::move(socket_), peer_text(endpoint.address()));
  }

  void cancel_open() override {
    resolver_.cancel();
    connect_timer_.cancel();
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

  std::string host_;
  std::string port_;
  std::chrono::milliseconds connect_timeout_;
  tcp::resolver resolver_;
  tcp::socket socket_;
  asio::steady_timer connect_timer_;
  bool timed_out_ = false;
};

}  // namespace

std::shared_ptr<Transport> make_tcp_client_transport(const config::StreamAdapterConfig& config,
                                                     asio::io_context& io) {
  return std::make_shared<TcpClientTransport>(io, config);
}

}  // namespace guardian::adapters::stream::detail
