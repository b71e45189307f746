#pragma once
/// \file
/// Commands from the cloud (and writes from the control socket): a command names a source, a
/// point and a value; the dispatcher checks it strictly, finds the adapter that serves the
/// source and asks it to write, and answers with one result carrying the command's id
/// (docs/telemetry.md "commands", docs/schema/guardian-v1.schema.json).
///
///   {prefix}commands         {"id":"c-42","source":"espresso-1","point":"boiler_setpoint",
///                             "value":92.5,"readback":true}
///   {prefix}commands/result  {"v":1,"device":"gw-1","id":"c-42","source":"espresso-1",
///                             "point":"boiler_setpoint","ok":true,"readback":92.5,"ts":"…"}
///                            {"v":1,"device":"gw-1","id":"c-43","ok":false,
///                             "error":"unknown key 'valeu' …","ts":"…"}
///
/// A command's id is remembered (the last 256): MQTT QoS 1 may deliver a command twice, and a
/// repeat of a finished command gets its result again without writing again; a repeat of one in
/// progress is answered once, when it finishes.

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "guardian/adapters/adapter.hpp"
#include "guardian/common/result.hpp"

namespace guardian::gateway {

class CommandDispatcher {
 public:
  using Adapters = std::vector<std::unique_ptr<adapters::Adapter>>;
  /// Publishes one result payload (to {prefix}commands/result).
  using Publish = std::function<void(std::string payload)>;

  /// `adapters` must outlive the dispatcher. Everything runs on the io_context thread.
  CommandDispatcher(std::string device_id, const Adapters& adapters, Publish publish);
  ~CommandDispatcher();
  CommandDispatcher(const CommandDispatcher&) = delete;
  CommandDispatcher& operator=(const CommandDispatcher&) = delete;

  /// Handles one payload from the commands topic. Garbage gets a result with ok:false and the
  /// reason (id null when there is no usable id); never throws.
  void on_message(std::string_view payload);

  /// Runs one write for the control socket; `done` receives the result object (the same JSON
  /// as published, without "v" and "device").
  void write(adapters::WriteCommand command, std::function<void(nlohmann::json)> done);

  /// What the dispatcher has seen.
  struct Counters {
    std::uint64_t received = 0;   ///< payloads on the commands topic
    std::uint64_t rejected = 0;   ///< refused before reaching an adapter (malformed, unknown source)
    std::uint64_t succeeded = 0;  ///< writes that reported ok
    std::uint64_t failed = 0;     ///< writes that reported an error
    std::uint64_t repeated = 0;   ///< repeats of an id already seen
  };
  [[nodiscard]] const Counters& counters() const noexcept { return counters_; }

  /// Parses a command payload strictly: a JSON object with "id" (1–128 characters), "source",
  /// "point", "value" (number, boolean or string) and optionally "readback" (boolean) and "v"
  /// (1); any other key is an error. `id` receives the id when one could be read.
  [[nodiscard]] static result<adapters::WriteCommand> parse(std::string_view payload,
                                                            std::string& id);

 private:
  void execute(adapters::WriteCommand command, std::function<void(nlohmann::json)> done);
  [[nodiscard]] adapters::Adapter* adapter_for(const std::string& source,
                                               std::string& error) const;
  [[nodiscard]] std::string publishable(nlohmann::json result) const;
  void remember(const std::string& id, const nlohmann::json& result);

  std::string device_id_;
  const Adapters& adapters_;
  Publish publish_;
  Counters counters_;
  std::set<std::string> in_progress_;
  std::map<std::string, nlohmann::json> finished_;
  std::deque<std::string> finished_order_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

/// The result object of a write: id, source, point, ok, error or readback, ts.
[[nodiscard]] nlohmann::json write_result_json(const adapters::WriteResult& result);

}  // namespace guardian::gateway
