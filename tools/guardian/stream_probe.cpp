// guardian probe: one transport, one io_context, a deadline.
//
//   run ─▶ transport.start ─▶ on_connected ─▶ send(query) ─▶ timer(duration) ─▶ io.stop
//                               on_bytes ─▶ hex/ASCII dump ─▶ codec.feed ─▶ "→ message: fields"
//          on_link_error / on_disconnected ─▶ io.stop ─▶ summary (chunks, bytes, codec counters)

#include "stream_probe.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <iomanip>
#include <sstream>

#include "guardian/adapters/stream/codec.hpp"
#include "guardian/adapters/stream/transport.hpp"
#include "guardian/common/byte_text.hpp"
#include "guardian/common/json_writer.hpp"
#include "guardian/config/site_config.hpp"

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
    return failed_ ? 2 : 0;
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
    if (!codec) codec = factory_->make();
    std::vector<adapters::stream::Decoded> decoded;
    codec->feed(bytes, now_ms(), decoded);
    if (datagram) codec->finish(now_ms(), decoded);
    for (const auto& d : decoded) {
      out_ << "                  → " << (d.message->record ? "record " : "") << d.message->name
           << ":";
      for (const auto& r : d.fields) out_ << " " << r.point << "=" << format_value(r);
      out_ << "\n";
    }
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
  }

  const StreamProbeOptions& options_;
  std::ostream& out_;
  asio::io_context io_;
  asio::steady_timer timer_;
  std::shared_ptr<adapters::stream::Transport> transport_;
  std::optional<adapters::stream::CodecFactory> factory_;
  std::map<ConnectionId, std::unique_ptr<adapters::stream::Codec>> codecs_;
  adapters::stream::CodecCounters retired_;
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

}  // namespace guardian::tools
