// guardian probe: one transport, one io_context, a deadline.
//
//   run ─▶ transport.start ─▶ on_connected ─▶ send(query) ─▶ timer(duration) ─▶ io.stop
//                               on_bytes ─▶ hex/ASCII dump ─▶ codec.feed ─▶ "→ message: fields"
//          on_link_error / on_disconnected ─▶ io.stop ─▶ summary (chunks, bytes, codec counters)

#include "stream_probe.hpp"

#include <cstdlib>
#include <iostream>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <iomanip>
#include <sstream>

#include "guardian/adapters/stream/checksum.hpp"
#include "guardian/adapters/stream/codec.hpp"
#include "guardian/adapters/stream/transport.hpp"
#include "guardian/common/byte_text.hpp"
#include "guardian/common/json_writer.hpp"
#include "guardian/config/loader.hpp"
#include "guardian/config/site_config.hpp"
#include "tool_exit_codes.hpp"

namespace guardian::tools {
namespace {

namespace asio = boost::asio;
using adapters::stream::ConnectionId;
using SteadyClock = std::chrono::steady_clock;

constexpr std::size_t kBytesPerLine = 16;

std::string describe_link(const config::StreamAdapterConfig& c) {
  switch (c.transport) {
    case config::StreamTransport::serial: {
      const char parity = c.serial.parity == config::Parity::even  ? 'E'
                          : c.serial.parity == config::Parity::odd ? 'O'
                                                                   : 'N';
      const char* flow = c.serial.flow_control == config::FlowControl::software   ? "software"
                         : c.serial.flow_control == config::FlowControl::hardware ? "hardware"
                                                                                  : "none";
      return "serial " + c.serial.port + " at " + std::to_string(c.serial.baud) + " " +
             std::to_string(c.serial.data_bits) + parity + std::to_string(c.serial.stop_bits) +
             ", flow control " + flow;
    }
    case config::StreamTransport::tcp_client:
      return "tcp " + c.host + ":" + std::to_string(c.port);
    case config::StreamTransport::udp:
      return "udp " + c.host + ":" + std::to_string(c.port);
    case config::StreamTransport::tcp_server:
      return "tcp server " + c.host + ":" + std::to_string(c.port);
  }
  return "?";
}

std::string format_value(const Reading& r) {
  if (r.quality != Quality::good) return "? (" + r.error + ")";
  std::string text;
  append_json_value(text, r.value);
  if (!r.unit.empty()) text += " " + r.unit;
  return text;
}

class Probe final : public adapters::stream::TransportEvents {
 public:
  Probe(const StreamProbeOptions& options, std::ostream& out)
      : options_(options), out_(out), timer_(io_) {
    if (options_.codec) factory_.emplace(*options_.codec);
  }

  int run() {
    transport_ = adapters::stream::make_transport(options_.link, io_);
    out_ << "probe: " << describe_link(options_.link) << "; listening for "
         << options_.duration.count() << " ms\n";
    if (options_.codec)
      out_ << "probe: decoding with the codec of " << options_.codec_origin << "\n";
    started_ = SteadyClock::now();
    transport_->start(*this);
    if (options_.link.transport == config::StreamTransport::udp && !failed_) arm_timer();
    io_.run();
    transport_->stop();
    summary();
    return failed_ ? kExitCannotConnect : kExitOk;
  }

  void on_connected(ConnectionId id, const std::string& peer) override {
    if (options_.link.transport == config::StreamTransport::udp) {
      out_ << "probe: datagrams from " << peer << "\n";
    } else {
      out_ << "probe: connected" << (peer.empty() ? "" : " to " + peer) << "\n";
      if (!options_.send.empty()) {
        transport_->send(id, std::make_shared<const std::vector<std::uint8_t>>(options_.send));
        out_ << "probe: sent " << options_.send.size()
             << " bytes: " << to_escaped_text(options_.send) << "\n";
      }
      started_ = SteadyClock::now();
      arm_timer();
    }
  }

  void on_bytes(ConnectionId id, std::span<const std::uint8_t> bytes, bool datagram) override {
    ++chunks_;
    total_ += bytes.size();
    const double at = std::chrono::duration<double>(SteadyClock::now() - started_).count();
    for (std::size_t pos = 0; pos < bytes.size(); pos += kBytesPerLine) {
      const auto line = bytes.subspan(pos, std::min(kBytesPerLine, bytes.size() - pos));
      std::ostringstream head;
      if (pos == 0)
        head << "+" << std::fixed << std::setprecision(3) << at << " s " << std::setw(5)
             << bytes.size() << " B";
      out_ << std::left << std::setw(18) << head.str() << std::setw(49) << to_hex(line)
           << to_escaped_text(line) << "\n";
    }
    if (!factory_) return;
    auto& codec = codecs_[id];
    if (!codec) {
      codec = factory_->make();
      codec->explain_mismatches();
    }
    std::vector<adapters::stream::Decoded> decoded;
    codec->feed(bytes, now_ms(), decoded);
    if (datagram) codec->finish(now_ms(), decoded);
    for (const auto& d : decoded) {
      out_ << "                  → " << (d.message->record ? "record " : "") << d.message->name
           << ":";
      for (const auto& r : d.fields) out_ << " " << r.point << "=" << format_value(r);
      out_ << "\n";
    }
    for (const auto& m : codec->take_mismatches()) explain(m);
  }

  void on_disconnected(ConnectionId id, const std::string& why) override {
    out_ << "probe: link closed: " << why << "\n";
    if (const auto it = codecs_.find(id); it != codecs_.end()) {
      it->second->reset();
      retired_ += it->second->counters();
      codecs_.erase(it);
    }
    io_.stop();
  }

  void on_link_error(const std::string& why) override {
    out_ << "probe: " << why << "\n";
    failed_ = true;
    io_.stop();
  }

  void on_refused(const std::string& peer, const std::string& why) override {
    out_ << "probe: refused " << peer << ": " << why << "\n";
  }

 private:
  void arm_timer() {
    timer_.expires_after(options_.duration);
    timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec) io_.stop();
    });
  }

  // One rejected line or frame: what was computed, what was received, and which catalogue
  // checksum would have passed — the usual cause is a checksum of the wrong kind or byte order.
  void explain(const adapters::stream::ChecksumMismatch& m) {
    const int digits = static_cast<int>(2 * config::checksum_size(m.kind));
    out_ << "                  ✗ " << (m.message.empty() ? "frame" : m.message)
         << ": checksum " << adapters::stream::checksum_name(m.kind) << " computed 0x"
         << std::hex << std::uppercase << std::setw(digits) << std::setfill('0') << m.computed
         << ", received 0x" << std::setw(digits) << m.received << std::dec << std::setfill(' ');
    if (m.would_pass.empty()) {
      out_ << "; no other catalogue checksum matches\n";
    } else {
      out_ << "; passes with";
      for (const auto& name : m.would_pass) out_ << (&name == &m.would_pass.front() ? " " : ", ") << name;
      out_ << "\n";
    }
    ++mismatches_;
    for (const auto& name : m.would_pass) ++would_pass_[name];
  }

  void summary() {
    const double seconds = std::chrono::duration<double>(SteadyClock::now() - started_).count();
    out_ << "probe: " << chunks_ << " chunk(s), " << total_ << " byte(s) in " << std::fixed
         << std::setprecision(1) << seconds << " s\n";
    if (!factory_) return;
    for (const auto& [cid, c] : codecs_) retired_ += c->counters();
    codecs_.clear();
    std::map<std::string, std::uint64_t> counters;
    retired_.add_to(counters, options_.codec->kind);
    out_ << "probe: codec:";
    if (counters.empty()) out_ << " nothing decoded, nothing dropped";
    for (const auto& [name, value] : counters) out_ << " " << name << "=" << value;
    out_ << "\n";
    for (const auto& [name, count] : would_pass_)
      if (count == mismatches_)
        out_ << "probe: every " << (mismatches_ == 1 ? "line or frame" : "one of the " +
                                                           std::to_string(mismatches_) +
                                                           " lines or frames")
             << " that failed its checksum passes with " << name
             << ": the codec's checksum is probably that one\n";
  }

  const StreamProbeOptions& options_;
  std::ostream& out_;
  asio::io_context io_;
  asio::steady_timer timer_;
  std::shared_ptr<adapters::stream::Transport> transport_;
  std::optional<adapters::stream::CodecFactory> factory_;
  std::map<ConnectionId, std::unique_ptr<adapters::stream::Codec>> codecs_;
  adapters::stream::CodecCounters retired_;
  std::uint64_t mismatches_ = 0;                    // checksum failures explained
  std::map<std::string, std::uint64_t> would_pass_;  // … and how many each alternative passes
  SteadyClock::time_point started_;
  std::uint64_t chunks_ = 0;
  std::uint64_t total_ = 0;
  bool failed_ = false;
};

}  // namespace

int run_stream_probe(const StreamProbeOptions& options, std::ostream& out) {
  Probe probe(options, out);
  return probe.run();
}

namespace {

bool given(const StreamProbeArguments& a, const std::string& option) {
  return a.command->get_option(option)->count() > 0;
}

void add_common_options(CLI::App& cmd, StreamProbeArguments& a) {
  cmd.add_option("--send", a.send, "Text to send once connected (escapes: \\r \\n \\xHH)");
  cmd.add_option("--send-hex", a.send_hex, "Bytes to send once connected, in hex ('05 01')")
      ->excludes("--send");
  cmd.add_option("--seconds", a.seconds, "How long to listen")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  cmd.add_option("-c,--config", a.config_file, "Configuration file holding --adapter");
  cmd.add_option("--adapter", a.adapter, "Decode with this stream adapter's codec (and poll)");
}

}  // namespace

const StreamProbeArguments* StreamProbeCommands::chosen() const {
  for (const auto* a : {&serial, &tcp, &udp})
    if (a->command != nullptr && *a->command) return a;
  return nullptr;
}

void add_stream_probe_commands(CLI::App& probe, StreamProbeCommands& c) {
  c.serial.kind = "serial";
  c.serial.command = probe.add_subcommand("serial", "Open a serial port");
  auto& serial = *c.serial.command;
  serial.add_option("port", c.serial.target, "e.g. /dev/ttyUSB0")->required();
  serial.add_option("--baud", c.serial.baud, "Bits per second")->capture_default_str();
  serial.add_option("--parity", c.serial.parity, "none, even or odd")
      ->check(CLI::IsMember({"none", "even", "odd"}))
      ->capture_default_str();
  serial.add_option("--data-bits", c.serial.data_bits, "5 to 8")
      ->check(CLI::Range(5, 8))
      ->capture_default_str();
  serial.add_option("--stop-bits", c.serial.stop_bits, "1 or 2")
      ->check(CLI::IsMember({1, 2}))
      ->capture_default_str();
  serial.add_option("--flow-control", c.serial.flow, "none, software, hardware")
      ->check(CLI::IsMember({"none", "software", "hardware"}))
      ->capture_default_str();
  add_common_options(serial, c.serial);
  c.tcp.kind = "tcp";
  c.tcp.command = probe.add_subcommand("tcp", "Connect to HOST:PORT");
  c.tcp.command->add_option("target", c.tcp.target, "HOST:PORT")->required();
  add_common_options(*c.tcp.command, c.tcp);
  c.udp.kind = "udp";
  c.udp.command = probe.add_subcommand("udp", "Receive datagrams");
  c.udp.command->add_option("--listen", c.udp.listen, "UDP port")->required();
  c.udp.command->add_option("--bind", c.udp.bind, "Address to bind")->capture_default_str();
  add_common_options(*c.udp.command, c.udp);
}

int run_stream_probe_command(const StreamProbeArguments& a, std::ostream& out, std::ostream& err) {
  StreamProbeOptions options;
  auto& link = options.link;
  // A named adapter supplies its codec, its poll query and (for the same kind of link) its
  // settings; the command line overrides them.
  if (!a.config_file.empty() || !a.adapter.empty()) {
    if (a.config_file.empty() || a.adapter.empty()) {
      err << "guardian probe: -c FILE and --adapter NAME go together\n";
      return kExitUsage;
    }
    const auto loaded = config::load_site_config(a.config_file);
    if (!loaded.ok()) {
      for (const auto& e : loaded.errors) err << e.to_string() << '\n';
      return kExitUsage;
    }
    const config::StreamAdapterConfig* found = nullptr;
    for (const auto& ac : loaded.config->adapters)
      if (const auto* s = std::get_if<config::StreamAdapterConfig>(&ac); s && s->name == a.adapter)
        found = s;
    if (found == nullptr) {
      err << "guardian probe: " << a.config_file << " has no serial, tcp-client, tcp-server "
          << "or udp adapter named '" << a.adapter << "'\n";
      return kExitUsage;
    }
    link = *found;
    options.codec = found->codec;
    options.codec_origin = "adapter '" + a.adapter + "' in " + a.config_file;
    if (found->poll) options.send = found->poll->query;
  }
  const auto kind = a.kind == "serial" ? config::StreamTransport::serial
                    : a.kind == "tcp"  ? config::StreamTransport::tcp_client
                                       : config::StreamTransport::udp;
  const bool adapter_link = options.codec.has_value() && link.transport == kind;
  if (!adapter_link) link.serial = {};
  link.transport = kind;
  link.backoff_min = link.backoff_max = std::chrono::hours{1};  // a probe does not retry
  // Without an adapter every option counts (with its default); with one, only those written.
  const auto use = [&](const char* option) { return !adapter_link || given(a, option); };
  if (kind == config::StreamTransport::serial) {
    link.serial.port = a.target;
    if (use("--baud")) link.serial.baud = a.baud;
    if (use("--data-bits")) link.serial.data_bits = a.data_bits;
    if (use("--stop-bits")) link.serial.stop_bits = a.stop_bits;
    if (use("--parity"))
      link.serial.parity = a.parity == "even"  ? config::Parity::even
                           : a.parity == "odd" ? config::Parity::odd
                                               : config::Parity::none;
    if (use("--flow-control"))
      link.serial.flow_control = a.flow == "software"   ? config::FlowControl::software
                                 : a.flow == "hardware" ? config::FlowControl::hardware
                                                        : config::FlowControl::none;
  } else if (kind == config::StreamTransport::tcp_client) {
    const auto colon = a.target.rfind(':');
    int port = 0;
    if (colon != std::string::npos) port = std::atoi(a.target.c_str() + colon + 1);
    if (colon == std::string::npos || port < 1 || port > 65535) {
      err << "guardian probe tcp: expected HOST:PORT, got '" << a.target << "'\n";
      return kExitUsage;
    }
    link.host = a.target.substr(0, colon);
    link.port = static_cast<std::uint16_t>(port);
  } else {
    link.host = a.bind;
    link.port = a.listen;
  }
  if (!a.send.empty() || !a.send_hex.empty()) {
    auto bytes = a.send.empty() ? parse_hex_bytes(a.send_hex) : unescape_bytes(a.send);
    if (!bytes) {
      err << "guardian probe: " << (a.send.empty() ? "--send-hex" : "--send") << ": "
          << bytes.error().message << "\n";
      return kExitUsage;
    }
    options.send = std::move(bytes).value();
  }
  options.duration = std::chrono::milliseconds{static_cast<std::int64_t>(a.seconds * 1000)};
  return run_stream_probe(options, out);
}

}  // namespace guardian::tools
