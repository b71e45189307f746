#pragma once
/// \file
/// The compact telemetry payload (v2, docs/telemetry.md "Compact payload (v2)"): point names and
/// units travel once, in a retained schema message per source, and a telemetry message carries
/// only schema indices, values, one timestamp per run of readings taken together, and quality and
/// errors where they are not good — optionally deflated. A reading costs a few bytes instead of
/// the ~80 of v1.
///
///   schema (kind schema, retained on …/schema/<source>):
///     "source":"s","schema":"<id>","points":[{"name":"p","unit":"u"},…]}
///   telemetry:
///     "source":"s","schema":"<id>","t":<ms>[,"i":[idx…]][,"g":[[n,dt]…]][,"q":{pos:q}]
///     [,"e":{pos:text}],"d":[value…]}
///
/// `i` is left out when the readings are schema points 0…n-1 in order; `g` when every reading has
/// time `t` (otherwise runs of n readings at t+dt ms); `q`/`e` are keyed by position in `d`. The
/// schema id is a hash of its points: a consumer keeps every schema it saw by id.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "guardian/common/reading.hpp"
#include "guardian/common/result.hpp"
#include "guardian/gateway/outbox_message.hpp"

namespace guardian::gateway {

/// The points of every source seen so far, by source: a point (name and unit) gets the next index
/// the first time it is seen, and the source's schema id changes with it.
class SchemaRegistry {
 public:
  struct Point {
    std::string name;
    std::string unit;
  };
  struct Schema {
    std::vector<Point> points;
    std::map<std::pair<std::string, std::string>, std::uint32_t> index;
    std::string id;  ///< 8 hex digits: FNV-1a over the points
  };

  /// The schema of `source` after adding the points of `readings` it lacks; `changed` is set when
  /// it is new or grew (its schema message must be queued before the data that uses it).
  const Schema& learn(const std::string& source, std::span<const Reading> readings, bool& changed);

 private:
  std::map<std::string, Schema> schemas_;
};

/// The queued schema message of `source` (kind schema, priority gap: it outlives the data).
[[nodiscard]] PendingMessage encode_schema(const std::string& source,
                                           const SchemaRegistry::Schema& schema);

/// A v2 telemetry message for `readings` (all of `source`, whose schema has learned them).
[[nodiscard]] PendingMessage encode_telemetry_v2(const std::string& source,
                                                 const SchemaRegistry::Schema& schema,
                                                 std::span<const Reading> readings);

/// Splits a v2 telemetry body into bodies of at most `max_body_bytes` (halving its readings);
/// a body that fits comes back alone; nullopt when one reading does not fit or it is not one.
[[nodiscard]] std::optional<std::vector<std::string>> split_v2_body(std::string_view body,
                                                                    std::size_t max_body_bytes);

/// zlib (RFC 1950) deflate of `data`, and back. inflate refuses output beyond `max_bytes`.
[[nodiscard]] std::string deflate_bytes(std::string_view data);
[[nodiscard]] result<std::string> inflate_bytes(std::string_view data, std::size_t max_bytes);

/// Turns v2 payloads back into v1 JSON documents (the reference decoder, `guardian decode`).
/// Also reassembles traces: the chunks (and parts) of one capture yield nothing until the last
/// one arrives, then the whole capture as one document (docs/telemetry.md "traces").
class CompactDecoder {
 public:
  CompactDecoder();
  ~CompactDecoder();
  CompactDecoder(const CompactDecoder&) = delete;
  CompactDecoder& operator=(const CompactDecoder&) = delete;

  /// Takes one MQTT payload (JSON or deflated JSON). A schema message is remembered and yields
  /// nothing; a v2 telemetry message yields its v1 document; a trace chunk yields nothing, or the
  /// whole trace with its last chunk; any other v1 or v2 message (records, gaps) comes back as
  /// its JSON with "v":1. Errors name what is wrong (an unknown schema id, a payload that is not
  /// JSON, an index beyond the schema, a chunk that contradicts its trace).
  [[nodiscard]] result<std::optional<std::string>> decode(std::string_view payload);

  /// Traces of which some chunks arrived and others not (yet), as "<source> <type> <start>".
  [[nodiscard]] std::vector<std::string> incomplete_traces() const;

 private:
  struct TraceChunks;
  std::map<std::string, std::vector<SchemaRegistry::Point>> schemas_;  // by id
  std::unique_ptr<TraceChunks> traces_;
};

}  // namespace guardian::gateway
