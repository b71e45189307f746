#include "guardian/gateway/command_dispatcher.hpp"

#include <algorithm>
#include <array>

#include "guardian/common/json_writer.hpp"
#include "guardian/common/log.hpp"
#include "guardian/common/time_format.hpp"
#include "guardian/gateway/command_parser.hpp"
#include "guardian/gateway/payload.hpp"

namespace guardian::gateway {
namespace {

constexpr std::size_t kRememberedIds = 256;

[[nodiscard]] nlohmann::json value_json(const Value& value) {
  std::string text;
  append_json_value(text, value);
  return nlohmann::json::parse(text, nullptr, false);
}

}  // namespace

nlohmann::json write_result_json(const adapters::WriteResult& r) {
  nlohmann::json j{{"id", r.id}, {"source", r.source}, {"point", r.point}, {"ok", r.ok}};
  if (!r.ok) j["error"] = r.error;
  if (!std::holds_alternative<std::monostate>(r.readback)) j["readback"] = value_json(r.readback);
  j["ts"] = format_rfc3339(r.ts == Timestamp{} ? now_ms() : r.ts);
  return j;
}

CommandDispatcher::CommandDispatcher(std::string device_id, const Adapters& adapters,
                                     Publish publish)
    : device_id_(std::move(device_id)), adapters_(adapters), publish_(std::move(publish)) {}

CommandDispatcher::~CommandDispatcher() { *alive_ = false; }

result<adapters::WriteCommand> CommandDispatcher::parse(std::string_view payload,
                                                        std::string& id) {
  return parse_command(payload, id);
}

std::string CommandDispatcher::publishable(nlohmann::json result) const {
  nlohmann::json out{{"v", kSchemaVersion}, {"device", device_id_}};
  out.update(result);
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void CommandDispatcher::remember(const std::string& id, const nlohmann::json& result) {
  if (finished_.emplace(id, result).second) finished_order_.push_back(id);
  while (finished_order_.size() > kRememberedIds) {
    finished_.erase(finished_order_.front());
    finished_order_.pop_front();
  }
}

void CommandDispatcher::on_message(std::string_view payload) {
  ++counters_.received;
  std::string id;
  auto command = parse(payload, id);
  if (!command) {
    ++counters_.rejected;
    log::warn("commands", "refused a command: " + command.error().message);
    nlohmann::json result{{"id", id.empty() ? nlohmann::json() : nlohmann::json(id)},
                          {"ok", false},
                          {"error", command.error().message},
                          {"ts", format_rfc3339(now_ms())}};
    publish_(publishable(std::move(result)));
    return;
  }
  if (const auto done = finished_.find(id); done != finished_.end()) {
    ++counters_.repeated;
    publish_(publishable(done->second));
    return;
  }
  if (in_progress_.contains(id)) {
    ++counters_.repeated;
    return;
  }
  execute(std::move(command).value(), [this, alive = std::weak_ptr<bool>(alive_),
                                       id](nlohmann::json result) {
    if (alive.expired()) return;
    remember(id, result);
    publish_(publishable(std::move(result)));
  });
}

void CommandDispatcher::write(adapters::WriteCommand command,
                              std::function<void(nlohmann::json)> done) {
  execute(std::move(command), std::move(done));
}

adapters::Adapter* CommandDispatcher::adapter_for(const std::string& source,
                                                  std::string& error) const {
  std::string known;
  for (const auto& adapter : adapters_) {
    for (const auto& s : adapter->health().sources) {
      if (s.source == source) return adapter.get();
      known += (known.empty() ? "'" : ", '") + s.source + "'";
    }
  }
  error = "no source '" + source + "' on this gateway" +
          (known.empty() ? std::string() : " (its sources: " + known + ")");
  return nullptr;
}

void CommandDispatcher::execute(adapters::WriteCommand command,
                                std::function<void(nlohmann::json)> done) {
  std::string error;
  auto* adapter = adapter_for(command.source, error);
  if (adapter == nullptr) {
    ++counters_.rejected;
    adapters::WriteResult refused{command.id, command.source, command.point, false, error, {},
                                  now_ms()};
    done(write_result_json(refused));
    return;
  }
  const std::string id = command.id;
  in_progress_.insert(id);
  log::info("commands", "write " + command.source + "/" + command.point + " (id " + id + ")");
  adapter->async_write(command, [this, alive = std::weak_ptr<bool>(alive_), id,
                                 done = std::move(done)](adapters::WriteResult&& result) {
    if (alive.expired()) return;
    in_progress_.erase(id);
    ++(result.ok ? counters_.succeeded : counters_.failed);
    if (!result.ok)
      log::warn("commands", "write " + result.source + "/" + result.point + " (id " + id +
                                ") failed: " + result.error);
    done(write_result_json(result));
  });
}

}  // namespace guardian::gateway
