#include "status_printer.hpp"

#include <cstdio>
#include <iomanip>
#include <sstream>
#include <string>

#include "guardian/common/time_format.hpp"

namespace guardian::tools {
namespace {

std::string duration_text(double seconds) {
  if (seconds < 60) {
    std::ostringstream s;
    s << std::fixed << std::setprecision(seconds < 10 ? 1 : 0) << seconds << "s";
    return s.str();
  }
  const auto total = static_cast<long long>(seconds);
  std::ostringstream s;
  if (total >= 86400) s << total / 86400 << "d";
  if (total >= 3600) s << (total % 86400) / 3600 << "h";
  s << (total % 3600) / 60 << "m" << total % 60 << "s";
  return s.str();
}

std::string bytes_text(std::uint64_t bytes) {
  std::ostringstream s;
  if (bytes < 1024) {
    s << bytes << " B";
  } else if (bytes < 1024 * 1024) {
    s << std::fixed << std::setprecision(1) << static_cast<double>(bytes) / 1024.0 << " KiB";
  } else {
    s << std::fixed << std::setprecision(1) << static_cast<double>(bytes) / (1024.0 * 1024.0)
      << " MiB";
  }
  return s.str();
}

std::string value_text(const nlohmann::json& v) {
  if (v.is_null()) return "—";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) {
    std::ostringstream s;
    s << std::setprecision(6) << v.get<double>();
    return s.str();
  }
  return v.dump();
}

// The member `key` of `j`, or an empty object/array: a reference that outlives any loop over it.
const nlohmann::json& section(const nlohmann::json& j, const char* key, bool array = false) {
  static const nlohmann::json kEmptyObject = nlohmann::json::object();
  static const nlohmann::json kEmptyArray = nlohmann::json::array();
  auto it = j.find(key);
  if (it == j.end() || (array ? !it->is_array() : !it->is_object()))
    return array ? kEmptyArray : kEmptyObject;
  return *it;
}

template <class T>
T get(const nlohmann::json& j, const char* key, T fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  try {
    return it->get<T>();
  } catch (const nlohmann::json::exception&) {
    return fallback;
  }
}

// "4.2s ago" from two RFC 3339 times; "never" when there is no last time.
std::string age_text(const std::string& now, const std::string& last) {
  const auto n = parse_rfc3339(now);
  const auto l = parse_rfc3339(last);
  if (!n || !l || *l == Timestamp{}) return "never";
  const double seconds =
      std::chrono::duration<double>(*n - *l).count();
  return duration_text(seconds < 0 ? 0 : seconds) + " ago";
}

}  // namespace

void print_status(std::ostream& out, const nlohmann::json& st) {
  out << "guardian " << get<std::string>(st, "device", "?") << "   up "
      << duration_text(get<double>(st, "uptime_s", 0)) << "   at " << get<std::string>(st, "ts", "")
      << "\n";

  const auto& link = section(st, "link");
  out << "link:    " << get<std::string>(link, "state", "?") << " (" << get<std::string>(link, "kind", "?")
      << ") since " << get<std::string>(link, "since", "?") << ", " << get<std::uint64_t>(link, "acknowledged", 0)
      << " acknowledged, " << get<std::uint64_t>(link, "in_flight", 0) << " in flight";
  if (link.contains("last_error")) out << ", last error: " << get<std::string>(link, "last_error", "");
  out << "\n";
  // The secure link: who the broker sees, until when, and why the last attestation failed.
  if (link.contains("cert_not_after")) {
    out << "         identity " << get<std::string>(link, "identity", "?") << ", certificate until "
        << get<std::string>(link, "cert_not_after", "?") << " (in "
        << duration_text(get<double>(link, "cert_expires_in_s", 0)) << ")";
    const auto& secure = section(link, "secure");
    if (secure.contains("attestations"))
      out << ", " << get<std::uint64_t>(secure, "attestations", 0) << " attestation(s)";
    if (get<std::uint64_t>(secure, "refused_local_connections", 0) > 0)
      out << ", " << get<std::uint64_t>(secure, "refused_local_connections", 0)
          << " local connection(s) to the tunnel refused";
    out << "\n";
  }
  if (link.contains("link_error"))
    out << "         secure link: " << get<std::string>(link, "link_error", "") << "\n";

  const auto& q = section(st, "queue");
  out << "queue:   " << get<std::uint64_t>(q, "depth", 0) << " message(s), "
      << get<std::uint64_t>(q, "readings", 0) << " reading(s), "
      << bytes_text(get<std::uint64_t>(q, "bytes", 0)) << ", oldest "
      << duration_text(get<double>(q, "oldest_age_s", 0)) << ", last seq "
      << get<std::uint64_t>(q, "last_seq", 0);
  if (get<std::uint64_t>(q, "readings_refused", 0) > 0)
    out << ", " << get<std::uint64_t>(q, "readings_refused", 0) << " refused (gaps reported)";
  out << "\n";

  out << "adapters:\n";
  for (const auto& a : section(st, "adapters", true)) {
    out << "  " << get<std::string>(a, "name", "?") << " (" << get<std::string>(a, "type", "?")
        << ") " << get<std::string>(a, "state", "?") << "\n";
    if (a.contains("warnings") && a["warnings"].is_array())
      for (const auto& w : a["warnings"])
        if (w.is_string()) out << "    warning: " << w.get<std::string>() << "\n";
    // What matters differs by kind: a polled Modbus unit has polls, round trips and timeouts; a
    // device that pushes data has messages, their age, and what its codec rejected.
    const bool polled = get<std::string>(a, "type", "").starts_with("modbus");
    for (const auto& s : section(a, "sources", true)) {
      out << "    " << std::left << std::setw(20) << get<std::string>(s, "source", "?") << std::setw(11)
          << get<std::string>(s, "state", "?");
      if (polled || get<std::uint64_t>(s, "polls", 0) > 0) {
        char rtt[32];
        std::snprintf(rtt, sizeof rtt, "%.1f", get<double>(s, "rtt_ms_avg", 0));
        out << " polls " << get<std::uint64_t>(s, "polls", 0) << "  timeouts "
            << get<std::uint64_t>(s, "timeouts", 0) << "  errors "
            << get<std::uint64_t>(s, "errors", 0) << "  rtt " << rtt << " ms";
      }
      if (!polled) {
        out << " messages " << get<std::uint64_t>(s, "responses", 0) << "  last "
            << age_text(get<std::string>(st, "ts", ""), get<std::string>(s, "last_ok", ""));
        for (const auto& [name, value] : section(s, "counters").items())
          if (name != "messages" && value.is_number_unsigned() && value.get<std::uint64_t>() > 0)
            out << "  " << name << " " << value.get<std::uint64_t>();
      }
      if (s.contains("last_error")) out << "  last error: " << get<std::string>(s, "last_error", "");
      out << std::right << "\n";
    }
  }

  out << "values:\n";
  for (const auto& [source, points] : section(st, "values").items()) {
    out << "  " << source << "\n";
    for (const auto& p : points) {
      out << "    " << std::left << std::setw(22) << get<std::string>(p, "name", "?") << std::right
          << std::setw(14) << value_text(p.value("value", nlohmann::json())) << " " << std::left
          << std::setw(8) << get<std::string>(p, "unit", "") << std::setw(10)
          << get<std::string>(p, "quality", "?") << get<std::string>(p, "ts", "");
      if (p.contains("error")) out << "  " << get<std::string>(p, "error", "");
      out << std::right << "\n";
    }
  }
}

}  // namespace guardian::tools
