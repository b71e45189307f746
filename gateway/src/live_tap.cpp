#include "guardian/gateway/live_tap.hpp"

#include <algorithm>

#include "guardian/common/json_writer.hpp"
#include "guardian/gateway/payload.hpp"

namespace guardian::gateway {
namespace {

bool listed(const std::vector<std::string>& names, const std::string& name) {
  return names.empty() || std::find(names.begin(), names.end(), name) != names.end();
}

// A list of names under `key`, absent or empty for "all"; false when it is something else.
bool read_names(const nlohmann::json& request, const char* key, std::vector<std::string>& out) {
  const auto it = request.find(key);
  if (it == request.end() || it->is_null()) return true;
  if (!it->is_array()) return false;
  for (const auto& name : *it) {
    if (!name.is_string()) return false;
    out.push_back(name.get<std::string>());
  }
  return true;
}

}  // namespace

bool LiveTap::Client::wants_source(const std::string& source) const {
  return listed(sources, source);
}
bool LiveTap::Client::wants_point(const std::string& point) const { return listed(points, point); }

void LiveTap::subscribe(const nlohmann::json& request, std::shared_ptr<ControlStream> stream) {
  Client client;
  if (!read_names(request, "sources", client.sources) ||
      !read_names(request, "points", client.points)) {
    stream->send(R"({"ok":false,"error":"sources and points are lists of names"})");
    return;
  }
  stream->send(R"({"ok":true})");
  client.stream = std::move(stream);
  clients_.push_back(std::move(client));
}

void LiveTap::forget_closed() {
  std::erase_if(clients_, [](const Client& c) { return c.stream->closed(); });
}

void LiveTap::on_batch(const ReadingBatch& batch) {
  if (clients_.empty()) return;
  forget_closed();
  for (const auto& r : batch.readings) {
    std::string line;  // written once, for the first client that wants it
    for (auto& client : clients_) {
      if (!client.wants_source(r.source) || !client.wants_point(r.point)) continue;
      if (line.empty()) {
        line = "{\"source\":";
        append_json_string(line, r.source);
        line.append(",\"point\":");
        append_json_string(line, r.point);
        std::string reading;
        append_reading_json(reading, r);
        // {"name":…,"value":… → the reading's members after its name.
        const auto after_name = reading.find(",\"value\":");
        line.append(reading, after_name, std::string::npos);
      }
      client.stream->send(line);
    }
  }
}

void LiveTap::on_record(const Record& record) {
  if (clients_.empty()) return;
  forget_closed();
  std::string line;
  for (auto& client : clients_) {
    // With a points filter, a record shows when its type is among the names (--point shot).
    if (!client.wants_source(record.source) || !client.wants_point(record.type)) continue;
    if (line.empty()) {
      // The record as it is queued (encode_record's body), with the record's type named "record".
      const auto message = encode_record(record);
      line = "{" + message.body;
      const auto type = line.find("\"type\":");
      if (type != std::string::npos) line.replace(type, 7, "\"record\":");
    }
    client.stream->send(line);
  }
}

}  // namespace guardian::gateway
