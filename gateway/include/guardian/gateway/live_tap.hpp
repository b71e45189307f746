#pragma once
/// \file
/// `guardian tail`: the readings and records of the running daemon, as the adapters deliver them
/// (before edge processing, so a technician sees every value with its quality and error), sent
/// to the control-socket clients that asked for them.
///
///   adapter ─ReadingBatch/Record─▶ LiveTap ─(per client: its filters)─▶ ControlStream::send
///                                     └─▶ Pipeline (unchanged)
///
/// With no client it costs one check per batch. A client's lines are JSON objects:
///   {"source":"espresso-1","point":"boiler_temp","value":93.2,"unit":"degC","quality":"good",
///    "ts":"…","error":"…"?}
///   {"source":"espresso-2","record":"shot","ts":"…","fields":[{reading},…]}
/// io_context thread only.

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "guardian/common/reading.hpp"
#include "guardian/gateway/control_server.hpp"

namespace guardian::gateway {

class LiveTap {
 public:
  /// Takes a `tail` request: {"cmd":"tail","sources":[…]?,"points":[…]?} (empty or absent = all;
  /// a record passes `points` when its type is listed) and answers {"ok":true} on `stream`, or
  /// {"ok":false,"error":…} for a malformed filter.
  void subscribe(const nlohmann::json& request, std::shared_ptr<ControlStream> stream);

  void on_batch(const ReadingBatch& batch);
  void on_record(const Record& record);

  /// Clients following now.
  [[nodiscard]] std::size_t clients() const noexcept { return clients_.size(); }

 private:
  struct Client {
    std::vector<std::string> sources;
    std::vector<std::string> points;
    std::shared_ptr<ControlStream> stream;
    [[nodiscard]] bool wants_source(const std::string& source) const;
    [[nodiscard]] bool wants_point(const std::string& point) const;
  };
  void forget_closed();

  std::vector<Client> clients_;
};

}  // namespace guardian::gateway
