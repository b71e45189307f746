#pragma once
/// \file
/// ObjectReader: reads one YAML map declaratively. A section reader asks for its keys one by one
/// with a typed parser; the reader records every problem (wrong node kind, bad value, missing
/// required key, duplicate key) at its line and column and carries on. When the section is done,
/// every key nobody asked for is reported as unknown, with a "did you mean" among the keys that
/// were asked for. Adding a key to a section is one line. Private to config/.
///
///   read_section(root)                      ObjectReader(map)
///     r.required("id", identifier())  ──▶     take("id") → parse scalar → value | error
///     r.section("tls", read_tls)      ──▶     ObjectReader(sub-map) … finish()
///     r.list("devices", …, read_dev)  ──▶     ObjectReader(item) per entry … finish()
///   r.finish()                        ──▶     untaken keys → "unknown key 'x' (did you mean 'y'?)"

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "diagnostics.hpp"
#include "scalar_parsers.hpp"

namespace guardian::config::detail {

enum class Presence : std::uint8_t { optional, required };
enum class Items : std::uint8_t { may_be_empty, at_least_one };

/// Names that must be unique within a scope (adapters, sources, points of one device).
/// "line 12, column 5", for messages that point at another place in the same file.
[[nodiscard]] std::string location_text(const SourceLocation& where);

class UniqueNames {
 public:
  /// Records `name` declared at `where`; returns where it was first declared if it already was.
  [[nodiscard]] std::optional<SourceLocation> claim(const std::string& name,
                                                    const SourceLocation& where);

 private:
  std::map<std::string, SourceLocation, std::less<>> first_;
};

/// Reads one YAML map. A null node (a key with nothing after it) reads as an empty map. Not
/// copyable; lives for the duration of one section's reading.
class ObjectReader {
 public:
  /// `where` locates the map itself (used for "missing key" errors); `path` is its dotted name in
  /// messages ("adapters[0].serial"), empty for the top of the file.
  ObjectReader(const YAML::Node& node, const YAML::Mark& where, std::string path,
               Diagnostics& diagnostics);
  ObjectReader(const ObjectReader&) = delete;
  ObjectReader& operator=(const ObjectReader&) = delete;

  /// The value of `key` if present and valid; a present but invalid value is reported.
  template <class T>
  std::optional<T> optional(std::string_view key, const ScalarParser<T>& parser);

  /// Like optional(), and a missing key is reported too.
  template <class T>
  std::optional<T> required(std::string_view key, const ScalarParser<T>& parser);

  /// Stores the value of `key` in `out` if present and valid, leaving the default otherwise.
  /// Returns true when a value was stored.
  template <class T>
  bool read(std::string_view key, T& out, const ScalarParser<std::type_identity_t<T>>& parser);

  /// Reads the map under `key` with `read_map`, then reports its unknown keys. Returns true when
  /// the key is present (even if the map had errors).
  bool section(std::string_view key, Presence presence,
               const std::function<void(ObjectReader&)>& read_map);

  /// Reads each map of the list under `key` with `read_item`, then reports the item's unknown
  /// keys. An absent key or an empty value is an empty list.
  void list(std::string_view key, Items items, const std::function<void(ObjectReader&)>& read_item);

  /// A map with free-form keys (e.g. raw value → label), every key and value parsed. nullopt when
  /// absent or when any entry was invalid (each one is reported).
  template <class K, class V>
  std::optional<std::map<K, V>> dictionary(std::string_view key, const ScalarParser<K>& key_parser,
                                           const ScalarParser<V>& value_parser);

  /// The scalars of the list under `key`, each parsed with `parser` (e.g. a list of paths).
  /// nullopt when absent, not a list, or when any item was invalid (each one is reported).
  template <class T>
  std::optional<std::vector<T>> scalars(std::string_view key, const ScalarParser<T>& parser);

  /// Reports `key` as an error with `reason` if present (a key we know and refuse, such as an
  /// inline password). Never suggested as a did-you-mean.
  void forbid(std::string_view key, std::string_view reason);

  /// Whether `key` is present (whatever its value). Does not make it known.
  [[nodiscard]] bool has(std::string_view key) const;

  /// Where this map starts.
  [[nodiscard]] SourceLocation location() const { return diagnostics_.locate(where_); }
  /// Where the value of `key` is, or where this map starts when it is absent.
  [[nodiscard]] SourceLocation location_of(std::string_view key) const;
  /// Dotted name of this map in messages.
  [[nodiscard]] const std::string& path() const noexcept { return path_; }

  /// Reports "<path>.<key>: message" at the value of `key` (or this map when it is absent).
  void error(std::string_view key, const std::string& message);
  /// Reports "<path>: message" at this map.
  void error(const std::string& message);
  /// Warns "<path>.<key>: message" at `key`: legal, but probably not what was meant.
  void warning(std::string_view key, const std::string& message);

  /// Reports `name` (the value of `key`) if it was already claimed in `scope`; `rule` says which
  /// uniqueness rule is broken, e.g. "device names must be unique across the site".
  void require_unique(std::string_view key, const std::string& name, UniqueNames& scope,
                      std::string_view what, std::string_view rule);

  /// Marks every remaining key as read, e.g. after an adapter type we do not know, whose keys
  /// would all look unknown.
  void skip_remaining_keys();

  /// Reports every key that no one asked for, with a did-you-mean among the keys asked for.
  /// section() and list() call it for their maps; call it on the top-level reader.
  void finish();

 private:
  struct Entry {
    std::string key;
    YAML::Mark key_mark;
    YAML::Node value;
    bool taken = false;
  };

  /// Marks `key` as known and taken; nullptr when absent or when this node is not a map.
  Entry* take(std::string_view key);
  [[nodiscard]] const Entry* find(std::string_view key) const;
  [[nodiscard]] std::string key_path(std::string_view key) const;
  /// "<path>: " or nothing at the top of the file.
  [[nodiscard]] std::string prefix() const;
  void report_missing(std::string_view key);

  /// Parses one scalar node with `parser`, reporting a wrong kind or an invalid value at `mark`.
  template <class T>
  std::optional<T> parse_scalar(const YAML::Node& node, const YAML::Mark& mark,
                                const std::string& path, const ScalarParser<T>& parser);
  void report_wrong_kind(const YAML::Node& node, const YAML::Mark& mark, const std::string& path,
                         const std::string& expected);

  Diagnostics& diagnostics_;
  YAML::Mark where_;
  std::string path_;
  bool is_map_ = false;
  std::vector<Entry> entries_;      ///< First occurrence of each key, in file order.
  std::vector<std::string> known_;  ///< Keys asked for: the did-you-mean candidates.
  std::vector<std::string> forbidden_;
};

/// Where a value is: a key with nothing after it has a null value whose yaml-cpp mark is the
/// start of the next line, so such values are located at their key instead.
[[nodiscard]] YAML::Mark value_mark(const YAML::Node& value, const YAML::Mark& key_mark);

// ───────────────────────────── templates ─────────────────────────────

template <class T>
std::optional<T> ObjectReader::parse_scalar(const YAML::Node& node, const YAML::Mark& mark,
                                            const std::string& path,
                                            const ScalarParser<T>& parser) {
  if (!node.IsScalar()) {
    report_wrong_kind(node, mark, path, parser.expected);
    return std::nullopt;
  }
  auto parsed = parser.parse(node.Scalar());
  if (!parsed) {
    diagnostics_.error(mark, path + ": " + parsed.error().message);
    return std::nullopt;
  }
  return std::move(parsed).value();
}

template <class T>
std::optional<T> ObjectReader::optional(std::string_view key, const ScalarParser<T>& parser) {
  const Entry* entry = take(key);
  if (entry == nullptr) return std::nullopt;
  return parse_scalar(entry->value, value_mark(entry->value, entry->key_mark), key_path(key),
                      parser);
}

template <class T>
std::optional<T> ObjectReader::required(std::string_view key, const ScalarParser<T>& parser) {
  if (is_map_ && find(key) == nullptr) report_missing(key);
  return optional(key, parser);
}

template <class T>
bool ObjectReader::read(std::string_view key, T& out,
                        const ScalarParser<std::type_identity_t<T>>& parser) {
  auto value = optional(key, parser);
  if (!value) return false;
  out = std::move(*value);
  return true;
}

template <class T>
std::optional<std::vector<T>> ObjectReader::scalars(std::string_view key,
                                                    const ScalarParser<T>& parser) {
  const Entry* entry = take(key);
  if (entry == nullptr) return std::nullopt;
  if (!entry->value.IsSequence()) {
    report_wrong_kind(entry->value, value_mark(entry->value, entry->key_mark), key_path(key),
                      "a list of " + parser.expected);
    return std::nullopt;
  }
  std::vector<T> out;
  bool all_valid = true;
  std::size_t index = 0;
  for (const YAML::Node& item : entry->value) {
    auto value = parse_scalar(item, item.Mark(),
                              key_path(key) + "[" + std::to_string(index++) + "]", parser);
    if (value)
      out.push_back(std::move(*value));
    else
      all_valid = false;
  }
  if (!all_valid) return std::nullopt;
  return out;
}

template <class K, class V>
std::optional<std::map<K, V>> ObjectReader::dictionary(std::string_view key,
                                                       const ScalarParser<K>& key_parser,
                                                       const ScalarParser<V>& value_parser) {
  const Entry* entry = take(key);
  if (entry == nullptr) return std::nullopt;
  ObjectReader map(entry->value, value_mark(entry->value, entry->key_mark), key_path(key),
                   diagnostics_);
  if (!map.is_map_) return std::nullopt;
  std::map<K, V> out;
  bool all_valid = true;
  for (Entry& item : map.entries_) {
    item.taken = true;
    const std::string item_path = map.path_ + "[" + item.key + "]";
    auto k = parse_scalar(YAML::Node(item.key), item.key_mark, item_path, key_parser);
    auto v =
        parse_scalar(item.value, value_mark(item.value, item.key_mark), item_path, value_parser);
    if (!k || !v) {
      all_valid = false;
    } else if (!out.emplace(std::move(*k), std::move(*v)).second) {
      // "1" and "0x1" are different YAML keys but the same number.
      diagnostics_.error(item.key_mark, item_path + ": the same value appears twice");
      all_valid = false;
    }
  }
  if (!all_valid) return std::nullopt;
  return out;
}

}  // namespace guardian::config::detail
