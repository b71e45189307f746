#include "tail_command.hpp"

#include <iostream>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <nlohmann/json.hpp>

#include "guardian/config/loader.hpp"
#include "tool_exit_codes.hpp"

namespace guardian::tools {
namespace {

namespace asio = boost::asio;
using local = asio::local::stream_protocol;
using nlohmann::json;

// "2026-12-08T00:22:33.336Z" → "00:22:33.336"
std::string clock_of(const json& j) {
  const auto ts = j.value("ts", std::string{});
  const auto t = ts.find('T');
  return t == std::string::npos ? ts : ts.substr(t + 1, ts.size() > t + 1 ? ts.size() - t - 2 : 0);
}

std::string value_text(const json& reading) {
  const auto v = reading.find("value");
  std::string out = v == reading.end() || v->is_null() ? "-" : v->is_string() ? v->get<std::string>()
                                                                               : v->dump();
  if (const auto unit = reading.value("unit", std::string{}); !unit.empty()) out += " " + unit;
  const auto quality = reading.value("quality", std::string("good"));
  if (quality != "good") {
    out += "  " + quality;
    if (const auto error = reading.value("error", std::string{}); !error.empty())
      out += " (" + error + ")";
  }
  return out;
}

}  // namespace

void add_tail_options(CLI::App& command, TailOptions& options) {
  command.add_option("-c,--config", options.config, "Configuration file (for control.socket)")
      ->capture_default_str();
  command.add_option("--socket", options.socket, "Control socket path (overrides --config)");
  command.add_option("--source", options.sources, "Only this source (repeat for several)");
  command.add_option("--point", options.points,
                     "Only this point, or records of this type (repeat for several)");
  command.add_flag("--json", options.json, "Print each reading or record as a JSON line");
}

std::string format_tail_line(const std::string& json_line) {
  const auto j = json::parse(json_line, nullptr, false);
  if (!j.is_object()) return {};
  if (j.contains("dropped"))
    return "… " + j["dropped"].dump() +
           " line(s) dropped: this terminal read slower than the daemon reads the equipment";
  const auto source = j.value("source", std::string{});
  if (j.contains("record")) {
    std::string out = clock_of(j) + "  " + source + "  record " + j.value("record", std::string{}) + ":";
    if (const auto fields = j.find("fields"); fields != j.end() && fields->is_array())
      for (const auto& f : *fields) out += "  " + f.value("name", std::string{}) + "=" + value_text(f);
    return out;
  }
  if (!j.contains("point")) return {};
  return clock_of(j) + "  " + source + "  " + j.value("point", std::string{}) + "  " + value_text(j);
}

int run_tail(const TailOptions& options, std::ostream& out, std::ostream& err) {
  std::filesystem::path path = options.socket;
  if (path.empty()) {
    const auto loaded = config::load_site_config(options.config);
    if (!loaded.ok()) {
      for (const auto& e : loaded.errors) err << e.to_string() << '\n';
      return kExitUsage;
    }
    path = loaded.config->control.socket;
  }
  asio::io_context io;
  local::socket socket(io);
  boost::system::error_code ec;
  socket.connect(local::endpoint(path.string()), ec);
  if (ec) {
    err << "guardian tail: " << (ec == boost::system::errc::permission_denied
                                     ? "permission denied on " + path.string() +
                                           ": run as the daemon's user or root"
                                     : "guardian is not running (no control socket at " +
                                           path.string() + ")")
        << '\n';
    return kExitNoDaemon;
  }
  json request{{"cmd", "tail"}};
  if (!options.sources.empty()) request["sources"] = options.sources;
  if (!options.points.empty()) request["points"] = options.points;
  asio::write(socket, asio::buffer(request.dump() + "\n"), ec);
  asio::streambuf buffer(1 << 20);
  bool first = true;
  while (!ec) {
    const std::size_t n = asio::read_until(socket, buffer, '\n', ec);
    if (ec) break;
    std::string line(asio::buffers_begin(buffer.data()),
                     asio::buffers_begin(buffer.data()) + static_cast<std::ptrdiff_t>(n) - 1);
    buffer.consume(n);
    if (first) {
      first = false;
      const auto answer = json::parse(line, nullptr, false);
      if (!answer.is_object() || !answer.value("ok", false)) {
        err << "guardian tail: "
            << (answer.is_object() ? answer.value("error", std::string("refused"))
                                   : std::string("the daemon answered something that is not JSON"))
            << '\n';
        return kExitNoDaemon;
      }
      if (!options.json)
        err << "guardian tail: following " << path.string() << " (Ctrl-C to stop)\n";
      continue;
    }
    if (options.json) {
      out << line << '\n' << std::flush;
    } else if (const auto text = format_tail_line(line); !text.empty()) {
      out << text << '\n' << std::flush;
    }
  }
  if (first) {
    err << "guardian tail: the daemon closed the connection without answering\n";
    return kExitNoDaemon;
  }
  err << "guardian tail: the daemon stopped\n";
  return 0;
}

}  // namespace guardian::tools
