#include "decode_command.hpp"

#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "guardian/gateway/compact_payload.hpp"

namespace guardian::tools {
namespace {

std::string read_all(std::istream& in) {
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// "7b22..." → bytes; nullopt for a line that is not hex.
std::optional<std::string> from_hex(std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
  if (line.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(line.size() / 2);
  const auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < line.size(); i += 2) {
    const int hi = nibble(line[i]);
    const int lo = nibble(line[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

bool decode_one(gateway::CompactDecoder& decoder, std::string_view payload,
                const std::string& where, std::ostream& out, std::ostream& err) {
  auto decoded = decoder.decode(payload);
  if (!decoded) {
    err << "guardian decode: " << where << ": " << decoded.error().message << '\n';
    return false;
  }
  if (decoded.value()) out << *decoded.value() << '\n';
  return true;
}

// A schema message, plain or deflated (read before the data of a set of files).
bool is_schema(std::string_view payload) {
  std::string text(payload);
  if (!payload.empty() && payload.front() != '{') {
    auto inflated = gateway::inflate_bytes(payload, 64u << 20);
    if (!inflated) return false;
    text = std::move(inflated).value();
  }
  return text.find("\"points\":") != std::string::npos &&
         text.find("\"reason\":") == std::string::npos;
}

// Traces some of whose chunks never came: named, so that nobody takes silence for "no shot".
bool report_incomplete(const gateway::CompactDecoder& decoder, std::ostream& err) {
  const auto incomplete = decoder.incomplete_traces();
  for (const auto& trace : incomplete)
    err << "guardian decode: trace " << trace << ": chunks are missing; it is not printed\n";
  return incomplete.empty();
}

}  // namespace

void add_decode_options(CLI::App& command, DecodeOptions& options) {
  command.add_option("files", options.files,
                     "Files of one MQTT payload each (schema messages among them are read first; "
                     "'-' is standard input)");
  command.add_flag("--hex-lines", options.hex_lines,
                   "Read standard input as one hex-encoded payload per line (mosquitto_sub -F %x)");
}

int run_decode(const DecodeOptions& options, std::istream& in, std::ostream& out,
               std::ostream& err) {
  gateway::CompactDecoder decoder;
  bool ok = true;
  if (options.hex_lines) {
    std::string line;
    for (std::size_t n = 1; std::getline(in, line); ++n) {
      if (line.empty()) continue;
      const auto payload = from_hex(line);
      if (!payload) {
        err << "guardian decode: line " << n << ": not a hex-encoded payload\n";
        ok = false;
        continue;
      }
      ok = decode_one(decoder, *payload, "line " + std::to_string(n), out, err) && ok;
    }
    return report_incomplete(decoder, err) && ok ? 0 : 1;
  }
  if (options.files.empty()) {
    err << "guardian decode: give the payload files, or --hex-lines to read standard input\n";
    return 1;
  }
  std::vector<std::pair<std::string, std::string>> payloads;  // (file, bytes)
  for (const auto& file : options.files) {
    if (file == "-") {
      payloads.emplace_back("standard input", read_all(in));
      continue;
    }
    std::ifstream f(file, std::ios::binary);
    if (!f) {
      err << "guardian decode: " << file << ": cannot be read\n";
      ok = false;
      continue;
    }
    payloads.emplace_back(file, read_all(f));
  }
  for (const bool schemas : {true, false})
    for (const auto& [file, bytes] : payloads)
      if (is_schema(bytes) == schemas) ok = decode_one(decoder, bytes, file, out, err) && ok;
  return report_incomplete(decoder, err) && ok ? 0 : 1;
}

}  // namespace guardian::tools
