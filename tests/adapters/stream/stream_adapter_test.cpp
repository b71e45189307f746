// The stream adapter against real peers: a socat pty pair for serial, loopback sockets for TCP
// (both directions) and UDP. The test thread runs the io_context and plays the equipment with
// Asio objects on the same io_context; every wait is for an event, with a deadline.

#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/serial_port.hpp>
#include <boost/asio/write.hpp>

#include "guardian/adapters/stream/checksum.hpp"
#include "guardian/adapters/stream/stream_adapter.hpp"
#include "guardian/common/byte_text.hpp"
#include "guardian/testing/environment.hpp"
#include "guardian/testing/serial_pair.hpp"
#include "stream_test_support.hpp"

namespace guardian::adapters::stream {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;
using guardian::testing::free_tcp_port;
using guardian::testing::SerialPair;
using namespace testing;

std::string replace(std::string text, const std::string& from, const std::string& to) {
  for (auto pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size()))
    text.replace(pos, from.size(), to);
  return text;
}

std::string nmea(const std::string& body) {
  const auto sum = compute_checksum(config::ChecksumKind::xor8, bytes_of(body));
  return "$" + body + "*" + to_hex(std::vector<std::uint8_t>{static_cast<std::uint8_t>(sum)}) +
         "\r\n";
}

/// The equipment's end of a pty pair, on the test's io_context.
class SerialDevice {
 public:
  SerialDevice(asio::io_context& io, const std::filesystem::path& path)
      : port_(io, path.string()) {}
  void write(const std::string& text) { asio::write(port_, asio::buffer(text)); }
  /// Answers every query line (ending in '\n') with answer(query), until answer returns "".
  void serve(std::function<std::string(const std::string&)> answer) {
    answer_ = std::move(answer);
    read_line();
  }
  void close() {
    boost::system::error_code ignored;
    port_.close(ignored);
  }
  std::size_t queries = 0;

 private:
  void read_line() {
    asio::async_read_until(port_, asio::dynamic_buffer(in_), '\n',
                           [this](boost::system::error_code ec, std::size_t n) {
                             if (ec) return;
                             const std::string query = in_.substr(0, n);
                             in_.erase(0, n);
                             ++queries;
                             const std::string reply = answer_(query);
                             if (!reply.empty()) write(reply);
                             read_line();
                           });
  }
  asio::serial_port port_;
  std::string in_;
  std::function<std::string(const std::string&)> answer_;
};

constexpr std::string_view kEspressoSerial = R"(- name: espresso-line
  type: serial
  source: espresso-1
  serial: {port: PORT, baud: 115200}
  backoff: {min: 100ms, max: 200ms}
  SILENCE
  codec:
    type: lines
    delimiter: "\r\n"
    max_line: 96
    messages:
      - name: status
        regex: '^\$STAT,(?<boiler_temp>[0-9.]+),(?<state>\d)\*[0-9A-F]{2}$'
        checksum: {type: xor}
        fields:
          - {name: boiler_temp, type: float, unit: degC}
          - {name: state, type: enum, enum: {0: idle, 1: heating, 2: ready, 3: brewing}}
      - name: shot
        record: true
        regex: '^\$SHOT,(?<number>\d+),(?<duration>[0-9.]+),(?<volume>[0-9.]+)\*[0-9A-F]{2}$'
        checksum: {type: xor}
        fields:
          - {name: number, type: int}
          - {name: duration, type: float, unit: s}
          - {name: volume, type: float, unit: ml}
)";

/// The espresso line adapter on the gateway end of `pty`, with `line` (one more key) added.
config::StreamAdapterConfig espresso_serial_with(const SerialPair& pty, const std::string& line) {
  return load_adapter(replace(
      replace(std::string(kEspressoSerial), "PORT", pty.gateway_end().string()), "SILENCE", line));
}

bool has_good(const Received& rx, const std::string& source, const std::string& point,
              const Value& value) {
  for (const auto& b : rx.batches)
    if (b.source == source)
      for (const auto& r : b.readings)
        if (r.point == point && r.quality == Quality::good && r.value == value) return true;
  return false;
}

/// A pty pair, an io_context, what the adapter delivers, and the serial espresso adapter started
/// on the gateway's end of the pair with `extra` keys (silence_timeout, poll …).
struct SerialBench {
  explicit SerialBench(const std::string& extra)
      : adapter(espresso_serial_with(pty, extra), driver.io(), rx.reading_sink(),
                rx.record_sink()) {
    adapter.start();
  }
  SerialPair pty;
  IoDriver driver;
  Received rx;
  StreamAdapter adapter;
};

TEST(SerialStreamAdapter, DeliversPushedStatusLinesAsReadingsAndShotsAsRecords) {
  SerialBench bench("silence_timeout: 0ms");
  auto& [pty, driver, rx, adapter] = bench;
  SerialDevice device(driver.io(), pty.device_end());
  device.write(nmea("STAT,93.5,2") + nmea("SHOT,17,27.5,61.25"));
  ASSERT_TRUE(driver.run_until([&] { return !rx.records.empty() && !rx.batches.empty(); }, 5s));
  EXPECT_TRUE(has_good(rx, "espresso-1", "boiler_temp", Value{93.5}));
  EXPECT_TRUE(has_good(rx, "espresso-1", "state", Value{std::string("ready")}));
  const Record& shot = rx.records.at(0);
  EXPECT_EQ(shot.source, "espresso-1");
  EXPECT_EQ(shot.type, "shot");
  ASSERT_EQ(shot.fields.size(), 3u);
  EXPECT_EQ(shot.fields[1].value, Value{27.5});
  EXPECT_EQ(shot.fields[1].unit, "s");
  EXPECT_EQ(shot.fields[2].source, "espresso-1");
  const auto h = adapter.health();
  EXPECT_EQ(h.type, "serial/lines");
  EXPECT_EQ(source_counter(h, "espresso-1", "messages"), 2u);
  EXPECT_EQ(source_health(h, "espresso-1")->state, "ok");
}

TEST(SerialStreamAdapter, GarbageAndBadChecksumsAreCountedInHealthAndGoodLinesStillArrive) {
  SerialBench bench("silence_timeout: 0ms");
  auto& [pty, driver, rx, adapter] = bench;
  SerialDevice device(driver.io(), pty.device_end());
  std::string bad = nmea("STAT,50.0,1");
  bad[7] = '9';
  device.write("\x01\x02noise\r\n" + bad + std::string(300, 'x') + "\r\n" + nmea("STAT,93.0,2"));
  ASSERT_TRUE(
      driver.run_until([&] { return has_good(rx, "espresso-1", "boiler_temp", Value{93.0}); }, 5s));
  const auto h = adapter.health();
  EXPECT_EQ(source_counter(h, "espresso-1", "unmatched_lines"), 1u);
  EXPECT_EQ(source_counter(h, "espresso-1", "bad_checksum"), 1u);
  EXPECT_EQ(source_counter(h, "espresso-1", "overlong"), 1u);
  EXPECT_FALSE(has_good(rx, "espresso-1", "boiler_temp", Value{50.0}));
}

TEST(SerialStreamAdapter, TurnsPointsCommFailWhenTheLineGoesAwayAndResumesWhenItComesBack) {
  SerialBench bench("silence_timeout: 0ms");
  auto& [pty, driver, rx, adapter] = bench;
  {
    SerialDevice device(driver.io(), pty.device_end());
    device.write(nmea("STAT,90.0,1"));
    ASSERT_TRUE(driver.run_until(
        [&] { return has_good(rx, "espresso-1", "boiler_temp", Value{90.0}); }, 5s));
    device.close();
  }
  pty.kill();  // the cable is pulled
  ASSERT_TRUE(
      driver.run_until([&] { return rx.batches_with("espresso-1", Quality::comm_fail) > 0; }, 5s));
  EXPECT_EQ(source_health(adapter.health(), "espresso-1")->state, "comm_fail");
  pty.start();  // … and plugged back: the adapter reopens the port by itself
  SerialDevice device(driver.io(), pty.device_end());
  // The device keeps talking; the first lines may arrive before the adapter has reopened.
  const bool resumed = driver.run_until(
      [&] {
        device.write(nmea("STAT,91.0,2"));
        driver.io().run_for(20ms);
        return has_good(rx, "espresso-1", "boiler_temp", Value{91.0});
      },
      10s);
  EXPECT_TRUE(resumed);
  EXPECT_EQ(source_health(adapter.health(), "espresso-1")->state, "ok");
}

TEST(SerialStreamAdapter, ASilentDeviceTurnsCommFailAfterTheSilenceTimeout) {
  SerialBench bench("silence_timeout: 300ms");
  auto& [pty, driver, rx, adapter] = bench;
  SerialDevice device(driver.io(), pty.device_end());
  device.write(nmea("STAT,92.0,2"));
  ASSERT_TRUE(
      driver.run_until([&] { return has_good(rx, "espresso-1", "boiler_temp", Value{92.0}); }, 5s));
  const auto silent_since = std::chrono::steady_clock::now();
  ASSERT_TRUE(
      driver.run_until([&] { return rx.batches_with("espresso-1", Quality::comm_fail) > 0; }, 5s));
  EXPECT_GE(std::chrono::steady_clock::now() - silent_since, 250ms);
  const auto& failed = rx.batches.back();
  EXPECT_EQ(failed.readings.size(), 2u);  // the status points; record fields are events, not points
  EXPECT_NE(failed.readings[0].error.find("no data for 300 ms"), std::string::npos);
  EXPECT_EQ(source_counter(adapter.health(), "espresso-1", "silences"), 1u);
}

TEST(SerialStreamAdapter, PollsWithAQueryAndTurnsCommFailWhenTheDeviceStopsAnswering) {
  SerialBench bench("poll: {send: \"STAT?\\r\\n\", interval: 100ms, timeout: 80ms, reply: status}");
  auto& [pty, driver, rx, adapter] = bench;
  SerialDevice device(driver.io(), pty.device_end());
  int answers = 3;
  device.serve([&](const std::string& query) -> std::string {
    EXPECT_EQ(query, "STAT?\r\n");
    if (answers == 0) return "";
    --answers;
    return nmea("STAT,9" + std::to_string(answers) + ".0,2");
  });
  ASSERT_TRUE(
      driver.run_until([&] { return has_good(rx, "espresso-1", "boiler_temp", Value{90.0}); }, 5s));
  ASSERT_TRUE(
      driver.run_until([&] { return rx.batches_with("espresso-1", Quality::comm_fail) > 0; }, 5s));
  const auto h = adapter.health();
  const auto* s = source_health(h, "espresso-1");
  EXPECT_EQ(s->polls, 3u);
  EXPECT_GE(s->requests, 4u);
  EXPECT_GE(s->timeouts, 1u);
  EXPECT_EQ(s->state, "comm_fail");
  EXPECT_NE(rx.batches.back().readings[0].error.find("no reply within 80 ms"), std::string::npos);
}

TEST(SerialStreamAdapter, AMissingPortIsRetriedWithoutStoppingTheOtherAdapters) {
  SerialPair pty;
  IoDriver driver;
  Received rx;
  auto missing = espresso_serial_with(pty, "silence_timeout: 0ms");
  missing.name = "missing";
  missing.source = "nowhere";
  missing.serial.port = (pty.gateway_end().parent_path() / "no-such-port").string();
  StreamAdapter broken(missing, driver.io(), rx.reading_sink(), rx.record_sink());
  StreamAdapter working(espresso_serial_with(pty, "silence_timeout: 0ms"), driver.io(),
                        rx.reading_sink(), rx.record_sink());
  broken.start();
  working.start();
  SerialDevice device(driver.io(), pty.device_end());
  device.write(nmea("STAT,93.0,2"));
  ASSERT_TRUE(
      driver.run_until([&] { return has_good(rx, "espresso-1", "boiler_temp", Value{93.0}); }, 5s));
  ASSERT_TRUE(driver.run_until(
      [&] {
        return broken.health().counters.count("link_errors") &&
               broken.health().counters.at("link_errors") >= 2;
      },
      5s));
  EXPECT_EQ(source_health(broken.health(), "nowhere")->state, "comm_fail");
  EXPECT_NE(source_health(broken.health(), "nowhere")->last_error.find("cannot open"),
            std::string::npos);
}

TEST(SerialStreamAdapter, HoldsItsPortAloneAndSaysWhenThePortCannotSwitchToRs485) {
  SerialPair pty;
  IoDriver driver;
  Received rx;
  auto rs485 = espresso_serial_with(pty, "silence_timeout: 0ms");
  rs485.serial.rs485 = true;
  StreamAdapter holder(rs485, driver.io(), rx.reading_sink(), rx.record_sink());
  holder.start();
  SerialDevice device(driver.io(), pty.device_end());
  device.write(nmea("STAT,93.0,2"));
  ASSERT_TRUE(
      driver.run_until([&] { return has_good(rx, "espresso-1", "boiler_temp", Value{93.0}); }, 5s));
  // A pty has no RS-485 mode: the line is used as it is, and health says so.
  const auto warnings = holder.health().warnings;
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("cannot switch to RS-485 mode"), std::string::npos) << warnings[0];

  // A second reader of the same port (another adapter, `guardian probe serial`) would take
  // bytes from the first: it is refused while the port is held.
  auto second = espresso_serial_with(pty, "silence_timeout: 0ms");
  second.name = "second";
  second.source = "espresso-9";
  StreamAdapter intruder(second, driver.io(), rx.reading_sink(), rx.record_sink());
  intruder.start();
  ASSERT_TRUE(driver.run_until(
      [&] {
        const auto h = intruder.health();
        return h.counters.count("link_errors") && h.counters.at("link_errors") >= 1;
      },
      5s));
  EXPECT_NE(source_health(intruder.health(), "espresso-9")
                ->last_error.find("is in use by another process"),
            std::string::npos)
      << source_health(intruder.health(), "espresso-9")->last_error;
  EXPECT_TRUE(holder.health().warnings.size() == 1u);
}

// ───────────────────────────── TCP client ─────────────────────────────

/// The equipment as a TCP server on 127.0.0.1:port that can be stopped and started again.
class TcpEquipment {
 public:
  TcpEquipment(asio::io_context& io, std::uint16_t port) : io_(io), port_(port) { start(); }
  void start() {
    acceptor_ = std::make_unique<tcp::acceptor>(io_);
    const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port_);
    acceptor_->open(ep.protocol());
    acceptor_->set_option(tcp::acceptor::reuse_address(true));
    acceptor_->bind(ep);
    acceptor_->listen();
    acceptor_->async_accept([this](boost::system::error_code ec, tcp::socket s) {
      if (!ec) {
        socket_ = std::make_unique<tcp::socket>(std::move(s));
        read();
      }
    });
  }
  void stop() {
    boost::system::error_code ignored;
    if (socket_) socket_->close(ignored);
    socket_.reset();
    acceptor_->close(ignored);
  }
  [[nodiscard]] bool connected() const { return socket_ != nullptr; }
  void write(const std::vector<std::uint8_t>& bytes) { asio::write(*socket_, asio::buffer(bytes)); }
  std::vector<std::uint8_t> received;

 private:
  void read() {
    socket_->async_read_some(asio::buffer(buf_), [this](boost::system::error_code ec,
                                                        std::size_t n) {
      if (ec) return;
      received.insert(received.end(), buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(n));
      if (on_query) on_query();
      read();
    });
  }

 public:
  std::function<void()> on_query;

 private:
  asio::io_context& io_;
  std::uint16_t port_;
  std::unique_ptr<tcp::acceptor> acceptor_;
  std::unique_ptr<tcp::socket> socket_;
  std::array<std::uint8_t, 512> buf_{};
};

/// 02 <temp i16 BE, tenths> <status u8> <crc8> — a fridge controller's fixed 5-byte frame.
std::vector<std::uint8_t> fridge_frame(std::int16_t tenths, std::uint8_t status) {
  const auto t = static_cast<std::uint16_t>(tenths);
  std::vector<std::uint8_t> f{0x02, static_cast<std::uint8_t>(t >> 8),
                              static_cast<std::uint8_t>(t & 0xFF), status};
  f.push_back(static_cast<std::uint8_t>(
      compute_checksum(config::ChecksumKind::crc8, std::span<const std::uint8_t>(f).subspan(1))));
  return f;
}

constexpr std::string_view kFridgeClient = R"(- name: fridge-link
  type: tcp-client
  source: fridge-1
  host: 127.0.0.1
  port: PORT
  connect_timeout: 500ms
  backoff: {min: 100ms, max: 200ms}
  POLL
  codec:
    type: binary
    sync: "02"
    frame_length: 5
    checksum: {type: crc8}
    messages:
      - name: status
        fields:
          - {name: temp, at: 1, type: i16, scale: 0.1, unit: degC}
          - {name: compressor, at: 4, type: u8, bit: 0}
)";

config::StreamAdapterConfig fridge_client(std::uint16_t port, const std::string& poll) {
  return load_adapter(replace(replace(std::string(kFridgeClient), "PORT", std::to_string(port)),
                              "POLL", poll.empty() ? "silence_timeout: 0ms" : poll));
}

TEST(TcpClientStreamAdapter, ReconnectsAfterTheEquipmentRestartsAndDecodesItsFrames) {
  IoDriver driver;
  Received rx;
  const auto port = free_tcp_port();
  TcpEquipment fridge(driver.io(), port);
  StreamAdapter adapter(fridge_client(port, ""), driver.io(), rx.reading_sink(), rx.record_sink());
  adapter.start();
  ASSERT_TRUE(driver.run_until([&] { return fridge.connected(); }, 5s));
  fridge.write(fridge_frame(-182, 1));
  ASSERT_TRUE(driver.run_until([&] { return has_good(rx, "fridge-1", "temp", Value{-18.2}); }, 5s));
  EXPECT_TRUE(has_good(rx, "fridge-1", "compressor", Value{true}));

  fridge.stop();  // the controller reboots
  ASSERT_TRUE(
      driver.run_until([&] { return rx.batches_with("fridge-1", Quality::comm_fail) > 0; }, 5s));
  fridge.start();
  ASSERT_TRUE(driver.run_until([&] { return fridge.connected(); }, 5s));
  fridge.write(fridge_frame(-190, 0));
  ASSERT_TRUE(driver.run_until([&] { return has_good(rx, "fridge-1", "temp", Value{-19.0}); }, 5s));
  const auto h = adapter.health();
  EXPECT_EQ(h.type, "tcp-client/binary");
  EXPECT_EQ(h.counters.at("disconnects"), 1u);
  EXPECT_EQ(source_counter(h, "fridge-1", "messages"), 2u);
}

TEST(TcpClientStreamAdapter, SendsAHexQueryAtEachIntervalAndMatchesTheReply) {
  IoDriver driver;
  Received rx;
  const auto port = free_tcp_port();
  TcpEquipment fridge(driver.io(), port);
  std::int16_t temp = -100;
  fridge.on_query = [&] {
    // Answer each complete 2-byte query "05 01" with a frame, split in two writes.
    while (fridge.received.size() >= 2) {
      EXPECT_EQ(fridge.received[0], 0x05);
      EXPECT_EQ(fridge.received[1], 0x01);
      fridge.received.erase(fridge.received.begin(), fridge.received.begin() + 2);
      const auto f = fridge_frame(temp--, 1);
      fridge.write({f.begin(), f.begin() + 2});
      fridge.write({f.begin() + 2, f.end()});
    }
  };
  StreamAdapter adapter(
      fridge_client(port, "poll: {send_hex: \"05 01\", interval: 50ms, timeout: 40ms}"),
      driver.io(), rx.reading_sink(), rx.record_sink());
  adapter.start();
  ASSERT_TRUE(driver.run_until([&] { return has_good(rx, "fridge-1", "temp", Value{-10.3}); }, 5s));
  const auto health = adapter.health();
  const auto* s = source_health(health, "fridge-1");
  EXPECT_GE(s->polls, 4u);
  EXPECT_EQ(s->timeouts, 0u);
  EXPECT_GT(s->rtt_ms_avg, 0.0);
}

// ───────────────────────────── TCP server ─────────────────────────────

/// A machine connecting from a loopback address of its own (127.0.0.x), so the adapter can tell
/// machines apart by address as it does on a real network.
class Machine {
 public:
  Machine(asio::io_context& io, const std::string& from, std::uint16_t port) : socket_(io) {
    socket_.open(tcp::v4());
    socket_.bind(tcp::endpoint(asio::ip::make_address(from), 0));
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }
  void write(const std::string& text) { asio::write(socket_, asio::buffer(text)); }
  /// True once the adapter has closed the connection.
  bool closed_by_peer(IoDriver& driver) {
    bool closed = false;
    std::array<char, 16> buf{};
    socket_.async_read_some(asio::buffer(buf), [&](boost::system::error_code ec, std::size_t) {
      closed = ec == asio::error::eof || ec == asio::error::connection_reset;
    });
    return driver.run_until([&] { return closed; }, 5s);
  }

 private:
  tcp::socket socket_;
};

constexpr std::string_view kMachinesServer = R"(- name: grinders
  type: tcp-server
  bind: 127.0.0.1
  port: PORT
  max_connections: MAX
  PEERS
  codec:
    type: lines
    messages:
      - name: dose
        key_value: {separator: " ", assign: "="}
        fields:
          - {name: id, key: id, type: string}
          - {name: grams, key: g, type: float, unit: g}
)";

config::StreamAdapterConfig machines_server(std::uint16_t port, int max, const std::string& peers) {
  return load_adapter(
      replace(replace(replace(std::string(kMachinesServer), "PORT", std::to_string(port)), "MAX",
                      std::to_string(max)),
              "PEERS", peers));
}

TEST(TcpServerStreamAdapter, TellsTwoMachinesApartByTheAddressTheyConnectFrom) {
  IoDriver driver;
  Received rx;
  const auto port = free_tcp_port();
  StreamAdapter adapter(machines_server(port, 4,
                                        "peers: [{address: 127.0.0.2, source: grinder-1}, "
                                        "{address: 127.0.0.3, source: grinder-2}]"),
                        driver.io(), rx.reading_sink(), rx.record_sink());
  adapter.start();
  ASSERT_TRUE(driver.run_until([&] { return adapter.health().state == "listening"; }, 5s));
  Machine one(driver.io(), "127.0.0.2", port);
  Machine two(driver.io(), "127.0.0.3", port);
  one.write("g=7.5 id=x\n");
  two.write("g=18.25\n");
  one.write("g=7.75\n");
  ASSERT_TRUE(driver.run_until(
      [&] {
        return has_good(rx, "grinder-1", "grams", Value{7.75}) &&
               has_good(rx, "grinder-2", "grams", Value{18.25});
      },
      5s));
  EXPECT_FALSE(has_good(rx, "grinder-2", "grams", Value{7.5}));
  EXPECT_EQ(source_counter(adapter.health(), "grinder-1", "messages"), 2u);
  EXPECT_EQ(source_counter(adapter.health(), "grinder-2", "messages"), 1u);
}

TEST(TcpServerStreamAdapter, ClosesUnknownPeersAndConnectionsBeyondTheLimitAndCountsThem) {
  IoDriver driver;
  Received rx;
  const auto port = free_tcp_port();
  StreamAdapter adapter(
      machines_server(port, 1, "peers: [{address: 127.0.0.2, source: grinder-1}]"), driver.io(),
      rx.reading_sink(), rx.record_sink());
  adapter.start();
  ASSERT_TRUE(driver.run_until([&] { return adapter.health().state == "listening"; }, 5s));
  Machine stranger(driver.io(), "127.0.0.9", port);
  EXPECT_TRUE(stranger.closed_by_peer(driver));
  Machine known(driver.io(), "127.0.0.2", port);
  known.write("g=1\n");
  ASSERT_TRUE(driver.run_until([&] { return has_good(rx, "grinder-1", "grams", Value{1.0}); }, 5s));
  Machine extra(driver.io(), "127.0.0.2", port);
  EXPECT_TRUE(extra.closed_by_peer(driver));
  const auto h = adapter.health();
  EXPECT_EQ(h.counters.at("unknown_peer"), 1u);
  EXPECT_EQ(h.counters.at("refused_connections"), 1u);
}

TEST(TcpServerStreamAdapter, TakesTheSourceFromAFieldOfTheData) {
  IoDriver driver;
  Received rx;
  const auto port = free_tcp_port();
  auto config = machines_server(port, 4, "source_field: id");
  config.max_sources = 2;
  StreamAdapter adapter(config, driver.io(), rx.reading_sink(), rx.record_sink());
  adapter.start();
  ASSERT_TRUE(driver.run_until([&] { return adapter.health().state == "listening"; }, 5s));
  Machine hub(driver.io(), "127.0.0.5", port);
  hub.write("id=m1 g=1\nid=m2 g=2\nid=m3 g=3\ng=4\nid=bad/name g=5\n");
  ASSERT_TRUE(driver.run_until(
      [&] {
        return adapter.health().counters.count("unnamed_messages") &&
               adapter.health().counters.at("unnamed_messages") == 2;
      },
      5s));
  EXPECT_TRUE(has_good(rx, "m1", "grams", Value{1.0}));
  EXPECT_TRUE(has_good(rx, "m2", "grams", Value{2.0}));
  EXPECT_FALSE(has_good(rx, "m3", "grams", Value{3.0}));
  EXPECT_EQ(adapter.health().counters.at("too_many_sources"), 1u);
  for (const auto& b : rx.batches)
    EXPECT_EQ(reading(b.readings, "id"), nullptr);  // identity, not data
}

// ───────────────────────────── UDP ─────────────────────────────

TEST(UdpStreamAdapter, IdentifiesSendersByAddressAndCountsBrokenDatagrams) {
  IoDriver driver;
  Received rx;
  const auto port = free_tcp_port();
  StreamAdapter adapter(load_adapter(replace(R"(- name: sensors
  type: udp
  bind: 127.0.0.1
  port: PORT
  peers: [{address: 127.0.0.2, source: probe-a}, {address: 127.0.0.3, source: probe-b}]
  codec:
    type: json-lines
    messages:
      - name: reading
        fields: [{name: t, pointer: /t, type: float, unit: degC}]
)",
                                             "PORT", std::to_string(port))),
                        driver.io(), rx.reading_sink(), rx.record_sink());
  adapter.start();
  ASSERT_TRUE(driver.run_until([&] { return adapter.health().state == "listening"; }, 5s));
  const udp::endpoint target(asio::ip::make_address("127.0.0.1"), port);
  const auto sender = [&](const std::string& from) {
    auto s = std::make_unique<udp::socket>(driver.io());
    s->open(udp::v4());
    s->bind(udp::endpoint(asio::ip::make_address(from), 0));
    return s;
  };
  auto a = sender("127.0.0.2");
  auto b = sender("127.0.0.3");
  auto c = sender("127.0.0.4");
  a->send_to(asio::buffer(std::string(R"({"t": 4.5})")),
             target);  // no newline: a datagram is a line
  b->send_to(asio::buffer(std::string("{\"t\": -2}\n{broken\n")), target);
  c->send_to(asio::buffer(std::string(R"({"t": 99})")), target);
  ASSERT_TRUE(driver.run_until(
      [&] {
        return has_good(rx, "probe-a", "t", Value{4.5}) &&
               has_good(rx, "probe-b", "t", Value{-2.0}) &&
               adapter.health().counters.count("unknown_peer");
      },
      5s));
  const auto h = adapter.health();
  EXPECT_EQ(h.type, "udp/json-lines");
  EXPECT_EQ(source_counter(h, "probe-b", "invalid_json"), 1u);
  EXPECT_EQ(h.counters.at("unknown_peer"), 1u);
  for (const auto& batch : rx.batches) EXPECT_NE(batch.source, "");
}

TEST(UdpStreamAdapter, DecodesCsvLinesOfADatagramAndCountsShortOnes) {
  IoDriver driver;
  Received rx;
  const auto port = free_tcp_port();
  StreamAdapter adapter(load_adapter(replace(R"(- name: climate
  type: udp
  bind: 127.0.0.1
  port: PORT
  peers: [{address: 127.0.0.2, source: cellar}]
  codec:
    type: lines
    messages:
      - name: climate
        csv: {separator: ";"}
        fields:
          - {name: temp, column: 1, type: float, unit: degC}
          - {name: humidity, column: 2, type: int, scale: 0.5, unit: "%"}
)",
                                             "PORT", std::to_string(port))),
                        driver.io(), rx.reading_sink(), rx.record_sink());
  adapter.start();
  ASSERT_TRUE(driver.run_until([&] { return adapter.health().state == "listening"; }, 5s));
  udp::socket sensor(driver.io());
  sensor.open(udp::v4());
  sensor.bind(udp::endpoint(asio::ip::make_address("127.0.0.2"), 0));
  const udp::endpoint target(asio::ip::make_address("127.0.0.1"), port);
  // Two lines in one datagram, the first missing a column.
  sensor.send_to(asio::buffer(std::string("C1;12.5\nC1;12.75;163\n")), target);
  ASSERT_TRUE(driver.run_until(
      [&] {
        return has_good(rx, "cellar", "temp", Value{12.75}) &&
               has_good(rx, "cellar", "humidity", Value{81.5});
      },
      5s));
  EXPECT_FALSE(has_good(rx, "cellar", "temp", Value{12.5}));
  EXPECT_EQ(adapter.health().type, "udp/lines");
  EXPECT_EQ(source_counter(adapter.health(), "cellar", "unmatched_lines"), 1u);
}

}  // namespace
}  // namespace guardian::adapters::stream
