#include "guardian/adapters/stream/transport.hpp"

#include "transports.hpp"

namespace guardian::adapters::stream {

std::string peer_text(const boost::asio::ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped())
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address.to_v6())
        .to_string();
  return address.to_string();
}

std::shared_ptr<Transport> make_transport(const config::StreamAdapterConfig& config,
                                          boost::asio::io_context& io) {
  switch (config.transport) {
    case config::StreamTransport::serial:
      return detail::make_serial_transport(config, io);
    case config::StreamTransport::tcp_client:
      return detail::make_tcp_client_transport(config, io);
    case config::StreamTransport::tcp_server:
      return detail::make_tcp_server_transport(config, io);
    case config::StreamTransport::udp:
      return detail::make_udp_transport(config, io);
  }
  return detail::make_serial_transport(config, io);
}

}  // namespace guardian::adapters::stream
