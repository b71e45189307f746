#include "object_reader.hpp"

#include <algorithm>

#include "near_miss.hpp"

namespace guardian::config::detail {
namespace {

std::string_view kind_name(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a map (key: value lines)";
    case YAML::NodeType::Sequence:
      return "a list (lines starting with '- ')";
    case YAML::NodeType::Scalar:
      return "a single value";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

/// The entry for `key` in a const or mutable entry list, or nullptr.
template <class Entries>
auto* find_entry(Entries& entries, std::string_view key) {
  const auto it =
      std::find_if(entries.begin(), entries.end(), [key](const auto& e) { return e.key == key; });
  return it == entries.end() ? nullptr : &*it;
}

}  // namespace

std::string location_text(const SourceLocation& where) {
  return "line " + std::to_string(where.line) + ", column " + std::to_string(where.column);
}

std::optional<SourceLocation> UniqueNames::claim(const std::string& name,
                                                 const SourceLocation& where) {
  const auto [it, inserted] = first_.emplace(name, where);
  if (inserted) return std::nullopt;
  return it->second;
}

YAML::Mark value_mark(const YAML::Node& value, const YAML::Mark& key_mark) {
  return value.IsNull() ? key_mark : value.Mark();
}

ObjectReader::ObjectReader(const YAML::Node& node, const YAML::Mark& where, std::string path,
                           Diagnostics& diagnostics)
    : diagnostics_(diagnostics), where_(where), path_(std::move(path)) {
  if (node.IsNull()) {
    is_map_ = true;
    return;
  }
  if (!node.IsMap()) {
    diagnostics_.error(where_, (path_.empty() ? std::string("the top of the file") : path_) +
                                   ": expected a map (key: value lines), got " +
                                   std::string(kind_name(node)));
    return;
  }
  is_map_ = true;
  // yaml-cpp keeps every occurrence of a repeated key and lookups return the first one, so a
  // repeated key would silently lose its second value: find them by walking the map.
  for (const auto& key_value : node) {
    const YAML::Node& key = key_value.first;
    if (!key.IsScalar()) {
      diagnostics_.error(
          key.Mark(), prefix() + "a key must be a single word, got " + std::string(kind_name(key)));
      continue;
    }
    if (const Entry* first = find(key.Scalar())) {
      diagnostics_.error(key.Mark(), prefix() + "duplicate key '" + key.Scalar() +
                                         "' (first defined at " +
                                         location_text(diagnostics_.locate(first->key_mark)) +
                                         "); remove one of them");
      continue;
    }
    entries_.push_back(Entry{key.Scalar(), key.Mark(), key_value.second});
  }
}

const ObjectReader::Entry* ObjectReader::find(std::string_view key) const {
  return find_entry(entries_, key);
}

ObjectReader::Entry* ObjectReader::take(std::string_view key) {
  if (std::find(known_.begin(), known_.end(), key) == known_.end()) known_.emplace_back(key);
  Entry* entry = find_entry(entries_, key);
  if (entry != nullptr) entry->taken = true;
  return entry;
}

bool ObjectReader::has(std::string_view key) const { return find(key) != nullptr; }

std::string ObjectReader::prefix() const { return path_.empty() ? std::string() : path_ + ": "; }

std::string ObjectReader::key_path(std::string_view key) const {
  if (path_.empty()) return std::string(key);
  return path_ + "." + std::string(key);
}

SourceLocation ObjectReader::location_of(std::string_view key) const {
  const Entry* entry = find(key);
  if (entry == nullptr) return location();
  return diagnostics_.locate(value_mark(entry->value, entry->key_mark));
}

void ObjectReader::error(std::string_view key, const std::string& message) {
  diagnostics_.error(location_of(key), key_path(key) + ": " + message);
}

void ObjectReader::error(const std::string& message) {
  diagnostics_.error(where_, prefix() + message);
}

void ObjectReader::warning(std::string_view key, const std::string& message) {
  diagnostics_.warning(location_of(key), key_path(key) + ": " + message);
}

void ObjectReader::report_missing(std::string_view key) {
  error("missing required key '" + std::string(key) + "'");
}

void ObjectReader::report_wrong_kind(const YAML::Node& node, const YAML::Mark& mark,
                                     const std::string& path, const std::string& expected) {
  diagnostics_.error(mark,
                     path + ": expected " + expected + ", got " + std::string(kind_name(node)));
}

bool ObjectReader::section(std::string_view key, Presence presence,
                           const std::function<void(ObjectReader&)>& read_map) {
  if (is_map_ && presence == Presence::required && find(key) == nullptr) report_missing(key);
  const Entry* entry = take(key);
  if (entry == nullptr) return false;
  ObjectReader map(entry->value, value_mark(entry->value, entry->key_mark), key_path(key),
                   diagnostics_);
  if (map.is_map_) {
    read_map(map);
    map.finish();
  }
  return true;
}

void ObjectReader::list(std::string_view key, Items items,
                        const std::function<void(ObjectReader&)>& read_item) {
  const Entry* entry = take(key);
  const bool empty = entry == nullptr || entry->value.IsNull() ||
                     (entry->value.IsSequence() && entry->value.size() == 0);
  if (empty) {
    if (is_map_ && items == Items::at_least_one) {
      if (entry == nullptr)
        report_missing(key);
      else
        error(key, "needs at least one entry");
    }
    return;
  }
  const YAML::Mark mark = value_mark(entry->value, entry->key_mark);
  if (!entry->value.IsSequence()) {
    report_wrong_kind(entry->value, mark, key_path(key), "a list (lines starting with '- ')");
    return;
  }
  std::size_t index = 0;
  for (const YAML::Node& item : entry->value) {
    ObjectReader map(item, item.Mark(), key_path(key) + "[" + std::to_string(index) + "]",
                     diagnostics_);
    if (map.is_map_) {
      read_item(map);
      map.finish();
    }
    ++index;
  }
}

void ObjectReader::forbid(std::string_view key, std::string_view reason) {
  forbidden_.emplace_back(key);
  const Entry* entry = take(key);
  if (entry != nullptr)
    diagnostics_.error(entry->key_mark, key_path(key) + ": " + std::string(reason));
}

void ObjectReader::require_unique(std::string_view key, const std::string& name, UniqueNames& scope,
                                  std::string_view what, std::string_view rule) {
  const SourceLocation where = location_of(key);
  if (const auto first = scope.claim(name, where))
    error(key, "duplicate " + std::string(what) + " '" + name + "' (first used at " +
                   location_text(*first) + "); " + std::string(rule));
}

void ObjectReader::skip_remaining_keys() {
  for (Entry& e : entries_) e.taken = true;
}

void ObjectReader::finish() {
  std::vector<std::string_view> candidates;
  for (const std::string& k : known_)
    if (std::find(forbidden_.begin(), forbidden_.end(), k) == forbidden_.end())
      candidates.push_back(k);
  for (Entry& e : entries_) {
    if (e.taken) continue;
    e.taken = true;
    std::string message = prefix() + "unknown key '" + e.key + "'";
    if (const auto suggestion = closest_match(e.key, candidates))
      message += " (did you mean '" + std::string(*suggestion) + "'?)";
    else if (!candidates.empty())
      message += "; the keys allowed here are " + quoted_list(candidates);
    diagnostics_.error(e.key_mark, std::move(message));
  }
}

}  // namespace guardian::config::detail
