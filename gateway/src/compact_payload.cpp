#include "guardian/gateway/compact_payload.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <set>
#include <cstdio>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "guardian/common/json_writer.hpp"
#include "guardian/common/time_format.hpp"

namespace guardian::gateway {
namespace {

using Json = nlohmann::ordered_json;

std::int64_t millis(Timestamp ts) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(ts.time_since_epoch()).count();
}

std::string schema_id(const std::vector<SchemaRegistry::Point>& points) {
  std::uint32_t h = 2166136261u;
  const auto mix = [&](std::string_view text) {
    for (const char c : text) h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
    h = (h ^ 0u) * 16777619u;  // the terminator: "ab","c" differs from "a","bc"
  };
  for (const auto& p : points) {
    mix(p.name);
    mix(p.unit);
  }
  std::array<char, 9> hex{};
  std::snprintf(hex.data(), hex.size(), "%08x", h);
  return hex.data();
}

// Time offsets beyond this (about 35 years in ms) are not a poll's: refused, so that t + dt
// cannot overflow.
constexpr std::int64_t kMaxMillis = std::int64_t{1} << 50;

std::int64_t checked_millis(const Json& v, const char* what) {
  if (!v.is_number_integer()) throw std::invalid_argument(std::string(what) + " is not an integer");
  const auto ms = v.get<std::int64_t>();
  if (ms > kMaxMillis || ms < -kMaxMillis)
    throw std::invalid_argument(std::string(what) + " is out of range");
  return ms;
}

// The per-position time offsets of a body's readings (from its "g" runs; 0 without them).
std::vector<std::int64_t> offsets_of(const Json& j, std::size_t n) {
  std::vector<std::int64_t> dt(n, 0);
  const auto g = j.find("g");
  if (g == j.end()) return dt;
  if (!g->is_array()) throw std::invalid_argument("g is not an array");
  std::size_t pos = 0;
  for (const auto& run : *g) {
    if (!run.is_array() || run.size() != 2 || !run.at(0).is_number_unsigned())
      throw std::invalid_argument("a run of g is not [count, dt]");
    const auto count = run.at(0).get<std::uint64_t>();
    const auto offset = checked_millis(run.at(1), "a run's dt");
    for (std::uint64_t k = 0; k < count && pos < n; ++k) dt[pos++] = offset;
  }
  return dt;
}

// Runs of equal offsets, [[count, offset]…]; empty when every offset is 0.
Json runs_of(std::span<const std::int64_t> dt) {
  if (std::all_of(dt.begin(), dt.end(), [](std::int64_t v) { return v == 0; })) return Json();
  Json runs = Json::array();
  for (std::size_t i = 0; i < dt.size();) {
    std::size_t j = i;
    while (j < dt.size() && dt[j] == dt[i]) ++j;
    runs.push_back(Json::array({j - i, dt[i]}));
    i = j;
  }
  return runs;
}

// The readings [a, b) of a parsed v2 body, as a body of their own.
std::string slice_body(const Json& j, std::size_t a, std::size_t b) {
  const auto& d = j.at("d");
  Json out = Json::object();
  out["source"] = j.at("source");
  out["schema"] = j.at("schema");
  out["t"] = j.at("t");
  const auto i = j.find("i");
  if (i != j.end() || a != 0) {
    Json idx = Json::array();
    for (std::size_t k = a; k < b; ++k) idx.push_back(i != j.end() ? i->at(k) : Json(k));
    out["i"] = std::move(idx);
  }
  const auto dt = offsets_of(j, d.size());
  if (auto g = runs_of(std::span<const std::int64_t>(dt).subspan(a, b - a)); !g.is_null())
    out["g"] = std::move(g);
  for (const char* key : {"q", "e"}) {
    const auto m = j.find(key);
    if (m == j.end()) continue;
    Json part = Json::object();
    for (const auto& [pos, value] : m->items()) {
      const auto p = std::stoul(pos);  // std::invalid_argument when not a number
      if (p >= a && p < b) part[std::to_string(p - a)] = value;
    }
    if (!part.empty()) out[key] = std::move(part);
  }
  Json values = Json::array();
  for (std::size_t k = a; k < b; ++k) values.push_back(d.at(k));
  out["d"] = std::move(values);
  const std::string text = out.dump();
  return text.substr(1);  // the body: members after the envelope, ending with '}'
}

void split_into(const Json& j, std::size_t a, std::size_t b, std::size_t max,
                std::vector<std::string>& out, bool& ok) {
  if (!ok) return;
  auto body = slice_body(j, a, b);
  if (body.size() <= max) {
    out.push_back(std::move(body));
    return;
  }
  if (b - a <= 1) {
    ok = false;
    return;
  }
  const std::size_t mid = a + (b - a) / 2;
  split_into(j, a, mid, max, out, ok);
  split_into(j, mid, b, max, out, ok);
}

}  // namespace

const SchemaRegistry::Schema& SchemaRegistry::learn(const std::string& source,
                                                    std::span<const Reading> readings,
                                                    bool& changed) {
  auto [it, fresh] = schemas_.try_emplace(source);
  Schema& s = it->second;
  changed = fresh;
  for (const auto& r : readings) {
    auto key = std::make_pair(r.point, r.unit);
    if (s.index.contains(key)) continue;
    s.index.emplace(std::move(key), static_cast<std::uint32_t>(s.points.size()));
    s.points.push_back(Point{r.point, r.unit});
    changed = true;
  }
  if (changed) s.id = schema_id(s.points);
  return s;
}

PendingMessage encode_schema(const std::string& source, const SchemaRegistry::Schema& schema) {
  PendingMessage m;
  m.kind = MessageKind::schema;
  m.priority = Priority::gap;
  m.source = source;
  std::string& out = m.body;
  out.append("\"source\":");
  append_json_string(out, source);
  out.append(",\"schema\":\"");
  out.append(schema.id);
  out.append("\",\"points\":[");
  for (std::size_t i = 0; i < schema.points.size(); ++i) {
    if (i != 0) out.push_back(',');
    out.append("{\"name\":");
    append_json_string(out, schema.points[i].name);
    if (!schema.points[i].unit.empty()) {
      out.append(",\"unit\":");
      append_json_string(out, schema.points[i].unit);
    }
    out.push_back('}');
  }
  out.append("]}");
  return m;
}

PendingMessage encode_telemetry_v2(const std::string& source, const SchemaRegistry::Schema& schema,
                                   std::span<const Reading> readings) {
  PendingMessage m;
  m.kind = MessageKind::telemetry;
  m.priority = Priority::routine;
  m.source = source;
  m.count = static_cast<std::uint32_t>(readings.size());
  if (readings.empty()) return m;
  const auto [lo, hi] = std::minmax_element(
      readings.begin(), readings.end(),
      [](const Reading& a, const Reading& b) { return a.source_ts < b.source_ts; });
  m.first_ts = lo->source_ts;
  m.last_ts = hi->source_ts;
  const std::int64_t t = millis(readings.front().source_ts);

  std::string& out = m.body;
  out.reserve(64 + source.size() + readings.size() * 6);
  out.append("\"source\":");
  append_json_string(out, source);
  out.append(",\"schema\":\"");
  out.append(schema.id);
  out.append("\",\"t\":");
  append_json_number(out, t);

  std::vector<std::uint32_t> idx;
  idx.reserve(readings.size());
  bool in_order = true;
  for (std::size_t k = 0; k < readings.size(); ++k) {
    const auto it = schema.index.find({readings[k].point, readings[k].unit});
    idx.push_back(it == schema.index.end() ? 0 : it->second);
    in_order = in_order && idx.back() == k;
  }
  if (!in_order) {
    out.append(",\"i\":[");
    for (std::size_t k = 0; k < idx.size(); ++k) {
      if (k != 0) out.push_back(',');
      append_json_number(out, static_cast<std::uint64_t>(idx[k]));
    }
    out.push_back(']');
  }
  if (lo->source_ts != hi->source_ts) {
    out.append(",\"g\":[");
    bool first = true;
    for (std::size_t k = 0; k < readings.size();) {
      std::size_t j = k;
      while (j < readings.size() && readings[j].source_ts == readings[k].source_ts) ++j;
      if (!first) out.push_back(',');
      first = false;
      out.push_back('[');
      append_json_number(out, static_cast<std::uint64_t>(j - k));
      out.push_back(',');
      append_json_number(out, millis(readings[k].source_ts) - t);
      out.push_back(']');
      k = j;
    }
    out.push_back(']');
  }
  // {"pos":"text",…} for the readings that have a text; nothing when none has.
  const auto sparse = [&](const char* key, auto text_of) {
    bool any = false;
    for (std::size_t k = 0; k < readings.size(); ++k) {
      const std::string_view text = text_of(readings[k]);
      if (text.empty()) continue;
      if (!any) {
        out.append(",\"");
        out.append(key);
        out.append("\":{");
      } else {
        out.push_back(',');
      }
      any = true;
      out.push_back('"');
      append_json_number(out, static_cast<std::uint64_t>(k));
      out.append("\":");
      append_json_string(out, text);
    }
    if (any) out.push_back('}');
  };
  sparse("q", [](const Reading& r) -> std::string_view {
    return r.quality == Quality::good ? std::string_view{} : to_string(r.quality);
  });
  sparse("e", [](const Reading& r) -> std::string_view { return r.error; });
  out.append(",\"d\":[");
  for (std::size_t k = 0; k < readings.size(); ++k) {
    if (k != 0) out.push_back(',');
    append_json_value(out, readings[k].value);
  }
  out.append("]}");
  return m;
}

std::optional<std::vector<std::string>> split_v2_body(std::string_view body,
                                                      std::size_t max_body_bytes) {
  if (body.size() <= max_body_bytes) return std::vector<std::string>{std::string(body)};
  std::string text = "{";
  text.append(body);
  const auto j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("d") || !j["d"].is_array() || j["d"].empty())
    return std::nullopt;
  std::vector<std::string> out;
  bool ok = true;
  try {
    split_into(j, 0, j["d"].size(), max_body_bytes, out, ok);
  } catch (const std::exception&) {  // nlohmann's, or a member that is not what v2 says
    return std::nullopt;
  }
  if (!ok) return std::nullopt;
  return out;
}

std::string deflate_bytes(std::string_view data) {
  uLongf size = compressBound(static_cast<uLong>(data.size()));
  std::string out(size, '\0');
  compress2(reinterpret_cast<Bytef*>(out.data()), &size,
            reinterpret_cast<const Bytef*>(data.data()), static_cast<uLong>(data.size()),
            Z_DEFAULT_COMPRESSION);
  out.resize(size);
  return out;
}

result<std::string> inflate_bytes(std::string_view data, std::size_t max_bytes) {
  z_stream z{};
  if (inflateInit(&z) != Z_OK) return make_error("cannot start zlib");
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  std::string out;
  std::array<char, 16384> chunk{};
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(chunk.data());
    z.avail_out = static_cast<uInt>(chunk.size());
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(chunk.data(), chunk.size() - z.avail_out);
    if (out.size() > max_bytes) {
      inflateEnd(&z);
      return make_error("the payload inflates beyond " + std::to_string(max_bytes) + " bytes");
    }
    if (rc == Z_BUF_ERROR && z.avail_in == 0) break;
  }
  inflateEnd(&z);
  if (rc != Z_STREAM_END) return make_error("the payload is neither JSON nor a complete zlib stream");
  return out;
}

// The chunks of traces being reassembled, by device, source, type and start. A capture is whole
// when each of its `chunks` chunks arrived with all of its parts.
struct CompactDecoder::TraceChunks {
  // Bounds against payloads that announce more than any gateway sends.
  static constexpr std::uint64_t kMaxValues = 1u << 20;  // points × samples of one trace
  static constexpr std::size_t kMaxPending = 256;        // traces in reassembly at once

  struct Pending {
    Json doc;
    std::uint64_t chunks = 0;
    std::uint64_t order = 0;
    std::map<std::uint64_t, std::set<std::uint64_t>> parts_seen;  // by seq
    std::set<std::uint64_t> chunks_done;
  };
  std::map<std::string, Pending> pending;
  std::uint64_t arrivals = 0;

  static std::uint64_t number(const Json& j, const char* key, std::uint64_t fallback) {
    const auto it = j.find(key);
    if (it == j.end()) return fallback;
    if (!it->is_number_unsigned()) throw std::invalid_argument(std::string(key) + " is not a count");
    return it->get<std::uint64_t>();
  }

  result<std::optional<std::string>> add(const Json& j) {
    try {
      const auto samples = number(j, "samples", 0);
      const auto chunks = number(j, "chunks", 1);
      const auto chunk = number(j, "chunk", 1);
      const auto first = number(j, "first", 0);
      const auto seq = number(j, "seq", 0);
      const auto parts = number(j, "parts", 1);
      const auto part = number(j, "part", 1);
      if (chunks == 0 || chunk == 0 || chunk > chunks || chunks > samples + 1 || part == 0 ||
          part > parts || parts > kMaxValues)
        return make_error("a trace chunk whose chunk/chunks or part/parts do not add up");
      if (samples > kMaxValues) return make_error("a trace of more samples than a gateway sends");
      const auto& points = j.at("points");
      if (!points.is_array()) return make_error("a trace chunk's points are not an array");
      const std::string key = j.value("device", std::string()) + " " +
                              j.at("source").get<std::string>() + " " +
                              j.at("type").get<std::string>() + " " +
                              j.at("start").get<std::string>();
      auto [it, fresh] = pending.try_emplace(key);
      auto& t = it->second;
      if (fresh) {
        if (pending.size() > kMaxPending) {
          auto oldest = std::min_element(pending.begin(), pending.end(), [](const auto& a, const auto& b) {
            return a.second.order < b.second.order;
          });
          if (oldest != it) pending.erase(oldest);
        }
        t.doc = Json::object();
        t.doc["v"] = 1;
        for (const char* k : {"device", "source", "type", "start", "end", "interval_ms", "samples",
                              "end_reason"})
          if (j.contains(k)) t.doc[k] = j[k];
        t.doc["seqs"] = Json::array();
        t.doc["summary"] = Json::array();
        t.doc["points"] = Json::array();
        t.chunks = chunks;
      } else if (t.chunks != chunks || t.doc["samples"].get<std::uint64_t>() != samples) {
        return make_error("trace " + key + ": a chunk says " + std::to_string(chunks) +
                          " chunks of " + std::to_string(samples) + " samples, another " +
                          std::to_string(t.chunks) + " of " + t.doc["samples"].dump());
      }
      t.order = ++arrivals;
      if (chunk == 1 && j.contains("summary") && j["summary"].is_array())
        t.doc["summary"] = j["summary"];
      auto& out_points = t.doc["points"];
      for (const auto& p : points) {
        const auto& name = p.at("name").get_ref<const std::string&>();
        const auto& values = p.at("values");
        if (!values.is_array() || first + values.size() > samples)
          return make_error("trace " + key + ": point " + name + " has values beyond its samples");
        auto existing = std::find_if(out_points.begin(), out_points.end(),
                                     [&](const Json& q) { return q["name"] == name; });
        if (existing == out_points.end()) {
          if ((out_points.size() + 1) * samples > kMaxValues)
            return make_error("trace " + key + ": more values than a gateway sends");
          Json q = Json::object();
          q["name"] = name;
          if (p.contains("unit")) q["unit"] = p["unit"];
          q["values"] = Json::array();
          q["values"].get_ref<Json::array_t&>().resize(samples);
          out_points.push_back(std::move(q));
          existing = out_points.end() - 1;
        }
        auto& target = (*existing)["values"];
        for (std::size_t i = 0; i < values.size(); ++i) target[first + i] = values[i];
      }
      auto& seen = t.parts_seen[seq];
      if (seen.empty()) t.doc["seqs"].push_back(seq);
      seen.insert(part);
      if (seen.size() == parts) t.chunks_done.insert(chunk);
      if (t.chunks_done.size() < t.chunks) return std::optional<std::string>{};
      std::string whole = t.doc.dump();
      pending.erase(it);
      return std::optional<std::string>{std::move(whole)};
    } catch (const std::exception& e) {
      return make_error(std::string("a trace chunk that is not one: ") + e.what());
    }
  }

  [[nodiscard]] std::vector<std::string> incomplete() const {
    std::vector<std::string> out;
    for (const auto& [key, t] : pending) out.push_back(key);
    return out;
  }
};

CompactDecoder::CompactDecoder() : traces_(std::make_unique<TraceChunks>()) {}
CompactDecoder::~CompactDecoder() = default;

std::vector<std::string> CompactDecoder::incomplete_traces() const {
  return traces_->incomplete();
}

result<std::optional<std::string>> CompactDecoder::decode(std::string_view payload) {
  std::string text;
  if (!payload.empty() && payload.front() == '{') {
    text = std::string(payload);
  } else {
    auto inflated = inflate_bytes(payload, 64u << 20);
    if (!inflated) return inflated.error();
    text = std::move(inflated).value();
  }
  auto j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return make_error("the payload is not a JSON object");
  // A schema message: remembered by its id.
  if (j.contains("points") && j.contains("schema") && !j.contains("reason")) {
    // A schema split to fit the broker comes in parts, in order: the later ones append.
    if (!j["schema"].is_string() || !j["points"].is_array())
      return make_error("a schema message needs a schema id and a points array");
    const auto part = j.contains("part") && j["part"].is_number_unsigned()
                          ? j["part"].get<std::uint64_t>() : 1;
    auto& points = schemas_[j["schema"].get<std::string>()];
    if (part <= 1) points.clear();
    for (const auto& p : j["points"]) {
      if (!p.is_object() || !p.contains("name") || !p["name"].is_string())
        return make_error("a schema point needs a name");
      const auto unit = p.find("unit");
      points.push_back({p["name"].get<std::string>(),
                        unit != p.end() && unit->is_string() ? unit->get<std::string>() : ""});
    }
    return std::optional<std::string>{};
  }
  if (j.contains("chunks") && j.contains("first") && j.contains("interval_ms"))
    return traces_->add(j);
  if (!j.contains("d") || !j.contains("schema")) {
    j["v"] = 1;  // records and gaps are the same in v1 and v2
    return std::optional<std::string>{j.dump()};
  }
  try {
    const auto id = j.at("schema").get<std::string>();
    const auto schema = schemas_.find(id);
    if (schema == schemas_.end())
      return make_error("schema " + id + " of source " + j.value("source", std::string("?")) +
                        " is unknown: give its schema message first (retained on …/schema/" +
                        j.value("source", std::string("?")) + ")");
    const auto& d = j.at("d");
    if (!d.is_array()) return make_error("d is not an array");
    const auto dt = offsets_of(j, d.size());
    const auto t = checked_millis(j.at("t"), "t");
    if (t < 0) return make_error("t is before 1970");
    Json out = Json::object();
    out["v"] = 1;
    for (const char* key : {"device", "seq", "part", "parts", "source"})
      if (j.contains(key)) out[key] = j[key];
    Json readings = Json::array();
    for (std::size_t k = 0; k < d.size(); ++k) {
      std::size_t index = k;
      if (j.contains("i")) {
        const auto& i = j["i"].at(k);
        if (!i.is_number_unsigned()) return make_error("i holds something else than indices");
        index = i.get<std::size_t>();
      }
      if (index >= schema->second.size())
        return make_error("index " + std::to_string(index) + " is beyond schema " + id + " (" +
                          std::to_string(schema->second.size()) + " points)");
      const auto& point = schema->second[index];
      const std::string pos = std::to_string(k);
      Json r = Json::object();
      r["name"] = point.name;
      r["value"] = d.at(k);
      if (!point.unit.empty()) r["unit"] = point.unit;
      r["quality"] = j.contains("q") && j["q"].is_object() && j["q"].contains(pos) ? j["q"][pos]
                                                                                  : Json("good");
      r["ts"] = format_rfc3339(Timestamp{std::chrono::milliseconds{t + dt[k]}});
      if (j.contains("e") && j["e"].is_object() && j["e"].contains(pos)) r["error"] = j["e"][pos];
      readings.push_back(std::move(r));
    }
    out["readings"] = std::move(readings);
    return std::optional<std::string>{out.dump()};
  } catch (const std::exception& e) {
    return make_error(std::string("not a v2 telemetry message: ") + e.what());
  }
}

}  // namespace guardian::gateway
