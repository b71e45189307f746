#pragma once
/// \file
/// The four transport implementations behind make_transport. Private to the stream adapter.

#include <memory>

#include "guardian/adapters/stream/transport.hpp"

namespace guardian::adapters::stream::detail {

[[nodiscard]] std::shared_ptr<Transport> make_serial_transport(
    const config::StreamAdapterConfig& config, boost::asio::io_context& io);
[[nodiscard]] std::shared_ptr<Transport> make_tcp_client_transport(
    const config::StreamAdapterConfig& config, boost::asio::io_context& io);
[[nodiscard]] std::shared_ptr<Transport> make_tcp_server_transport(
    const config::StreamAdapterConfig& config, boost::asio::io_context& io);
[[nodiscard]] std::shared_ptr<Transport> make_udp_transport(
    const config::StreamAdapterConfig& config, boost::asio::io_context& io);

}  // namespace guardian::adapters::stream::detail
