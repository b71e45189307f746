// `guardian probe` against real links: a pty pair whose far end answers a query, a TCP peer that
// answers a hex query, a TCP port where nobody listens, and UDP datagrams. The output must show the
// bytes (hex and ASCII) and what the configured codec decodes and drops.

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/serial_port.hpp>
#include <boost/asio/write.hpp>
#include <iomanip>
#include <sstream>
#include <thread>

#include "guardian/adapters/stream/checksum.hpp"
#include "guardian/config/loader.hpp"
#include "guardian/testing/environment.hpp"
#include "guardian/testing/serial_pair.hpp"
#include "stream_probe.hpp"

namespace guardian::tools {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

config::CodecConfig status_codec() {
  const auto loaded = config::parse_site_config(R"(device: {id: gw}
adapters:
  - name: espresso
    type: serial
    serial: {port: /dev/null}
    codec:
      type: lines
      delimiter: "\r\n"
      messages:
        - name: status
          regex: '^STAT (?<t>[0-9.]+)$'
          fields: [{name: t, type: float, unit: degC}]
)",
                                                "probe.yaml");
  EXPECT_TRUE(loaded.ok());
  return std::get<config::StreamAdapterConfig>(loaded.config->adapters.at(0)).codec;
}

TEST(StreamProbe, SendsTheQueryAndShowsTheReplyInHexAsciiAndDecoded) {
  testing::SerialPair pty;
  // The device: answers "STAT?\r\n" with a good line and a line the codec does not know.
  std::thread device([path = pty.device_end()] {
    asio::io_context io;
    asio::serial_port port(io, path.string());
    std::string in;
    asio::read_until(port, asio::dynamic_buffer(in), '\n');
    if (in == "STAT?\r\n")
      asio::write(port, asio::buffer(std::string("STAT 93.5\r\nHELLO\x01\r\n")));
  });
  StreamProbeOptions options;
  options.link.transport = config::StreamTransport::serial;
  options.link.serial.port = pty.gateway_end().string();
  options.link.serial.baud = 115200;
  options.send = {'S', 'T', 'A', 'T', '?', '\r', '\n'};
  options.duration = 1s;
  options.codec = status_codec();
  options.codec_origin = "the test";
  std::ostringstream out;
  EXPECT_EQ(run_stream_probe(options, out), 0);
  device.join();
  const std::string text = out.str();
  EXPECT_NE(text.find("serial " + pty.gateway_end().string() + " at 115200 8N1"), std::string::npos)
      << text;
  EXPECT_NE(text.find("sent 7 bytes: STAT?\\r\\n"), std::string::npos) << text;
  // 16 bytes per line, hex then the same bytes as escaped ASCII.
  EXPECT_NE(text.find("53 54 41 54 20 39 33 2E 35 0D 0A 48 45 4C 4C 4F  STAT 93.5\\r\\nHELLO\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("01 0D 0A"), std::string::npos) << text;
  EXPECT_NE(text.find("\\x01\\r\\n"), std::string::npos) << text;
  EXPECT_NE(text.find("→ status: t=93.5 degC"), std::string::npos) << text;
  EXPECT_NE(text.find("codec: messages=1 unmatched_lines=1"), std::string::npos) << text;
}

TEST(StreamProbe, ConnectsOverTcpSendsAHexQueryAndShowsTheReply) {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io,
                                   asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto port = acceptor.local_endpoint().port();
  // The equipment: answers the two query bytes 05 01 with a three-byte frame.
  std::thread equipment([&] {
    auto socket = acceptor.accept();
    std::array<std::uint8_t, 2> query{};
    asio::read(socket, asio::buffer(query));
    if (query == std::array<std::uint8_t, 2>{0x05, 0x01})
      asio::write(socket, asio::buffer(std::array<std::uint8_t, 3>{0xAA, 0x55, 0x7F}));
    // Hold the connection until the probe has had its time and closes it.
    std::array<std::uint8_t, 1> rest{};
    boost::system::error_code ec;
    socket.read_some(asio::buffer(rest), ec);
  });
  StreamProbeOptions options;
  options.link.transport = config::StreamTransport::tcp_client;
  options.link.host = "127.0.0.1";
  options.link.port = port;
  options.send = {0x05, 0x01};
  options.duration = 1s;
  std::ostringstream out;
  EXPECT_EQ(run_stream_probe(options, out), kExitOk);
  equipment.join();
  const std::string text = out.str();
  EXPECT_NE(text.find("tcp 127.0.0.1:" + std::to_string(port)), std::string::npos) << text;
  EXPECT_NE(text.find("sent 2 bytes"), std::string::npos) << text;
  EXPECT_NE(text.find("AA 55 7F"), std::string::npos) << text;
  EXPECT_NE(text.find("\\xAAU\\x7F"), std::string::npos) << text;
}

TEST(StreamProbe, SaysWhyATcpLinkCannotBeOpenedAndExitsWithCannotConnect) {
  StreamProbeOptions options;
  options.link.transport = config::StreamTransport::tcp_client;
  options.link.host = "127.0.0.1";
  options.link.port = testing::free_tcp_port();  // nobody listens there
  options.duration = 1s;
  std::ostringstream out;
  EXPECT_EQ(run_stream_probe(options, out), kExitCannotConnect);
  EXPECT_NE(out.str().find("cannot connect to 127.0.0.1:" + std::to_string(options.link.port) +
                           ": Connection refused"),
            std::string::npos)
      << out.str();
}

TEST(StreamProbe, ShowsUdpDatagramsWithTheirSender) {
  StreamProbeOptions options;
  options.link.transport = config::StreamTransport::udp;
  options.link.host = "127.0.0.1";
  options.link.port = testing::free_tcp_port();
  options.duration = 1500ms;
  std::atomic<bool> done = false;
  std::thread sender([&] {
    asio::io_context io;
    asio::ip::udp::socket s(io, asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.7"), 0));
    const asio::ip::udp::endpoint to(asio::ip::make_address("127.0.0.1"), options.link.port);
    // Until the probe is done: it may not be listening yet when the first datagram leaves.
    testing::wait_until(
        [&] {
          s.send_to(asio::buffer(std::string("T=4")), to);
          return done.load();
        },
        10s, 100ms);
  });
  std::ostringstream out;
  EXPECT_EQ(run_stream_probe(options, out), 0);
  done = true;
  sender.join();
  EXPECT_NE(out.str().find("datagrams from 127.0.0.7"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("54 3D 34"), std::string::npos) << out.str();
}

TEST(StreamProbe, NamesTheChecksumThatRejectedFramesWouldHavePassedWith) {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io,
                                   asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto port = acceptor.local_endpoint().port();
  // The equipment protects its frames with CRC-16/XMODEM (high byte first); the codec was
  // written for CRC-16/MODBUS, as the manual of a similar model said.
  std::thread equipment([&] {
    auto socket = acceptor.accept();
    std::vector<std::uint8_t> frames;
    for (const std::uint8_t value : {std::uint8_t{0x07}, std::uint8_t{0x2A}}) {
      const std::vector<std::uint8_t> covered{0x02, 0x01, value};
      const auto crc = adapters::stream::compute_checksum(config::ChecksumKind::crc16_xmodem, covered);
      for (const auto b : {std::uint8_t{0xAA}, std::uint8_t{0x55}, covered[0], covered[1], covered[2],
                           static_cast<std::uint8_t>(crc >> 8), static_cast<std::uint8_t>(crc & 0xFF)})
        frames.push_back(b);
    }
    asio::write(socket, asio::buffer(frames));
    std::array<std::uint8_t, 1> rest{};
    boost::system::error_code ec;
    socket.read_some(asio::buffer(rest), ec);
  });
  const auto loaded = config::parse_site_config(R"(device: {id: gw}
adapters:
  - name: fridge
    type: tcp-client
    host: 127.0.0.1
    port: 1
    codec:
      type: binary
      sync: "AA 55"
      length: {at: 2, size: 1, counts: payload}
      checksum: {type: crc16-modbus}
      messages:
        - name: status
          fields: [{name: v, at: 4, type: u8}]
)",
                                                "probe.yaml");
  ASSERT_TRUE(loaded.ok());
  StreamProbeOptions options;
  options.link.transport = config::StreamTransport::tcp_client;
  options.link.host = "127.0.0.1";
  options.link.port = port;
  options.duration = 1s;
  options.codec = std::get<config::StreamAdapterConfig>(loaded.config->adapters.at(0)).codec;
  options.codec_origin = "the test";
  std::ostringstream out;
  EXPECT_EQ(run_stream_probe(options, out), kExitOk);
  equipment.join();
  const std::string text = out.str();
  // Each rejected frame: what was computed, what came, and what would have matched.
  const auto first = adapters::stream::compute_checksum(config::ChecksumKind::crc16_modbus,
                                                        std::vector<std::uint8_t>{0x02, 0x01, 0x07});
  std::ostringstream computed;
  computed << "✗ frame: checksum crc16-modbus computed 0x" << std::hex << std::uppercase
           << std::setw(4) << std::setfill('0') << first;
  EXPECT_NE(text.find(computed.str()), std::string::npos) << text;
  EXPECT_NE(text.find("; passes with crc16-xmodem\n"), std::string::npos) << text;
  EXPECT_NE(text.find("every one of the 2 lines or frames that failed its checksum passes with "
                      "crc16-xmodem"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("bad_checksum=2"), std::string::npos) << text;
}

}  // namespace
}  // namespace guardian::tools
