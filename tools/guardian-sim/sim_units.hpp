#pragma once
/// \file
/// The units a simulator serves: one machine model and one libmodbus register mapping per unit
/// id, advanced together, and the answer to one request — shared by the Modbus TCP server and
/// the RTU server so that both behave alike on the wire.
///
///   answer(request) ─ read longer than the machine allows ─────────► exception 02
///                   ─ write to an address no writable point has ──► exception 02
///                   ─ write of a value outside write_min/max ──────► exception 03
///                   ─ otherwise modbus_reply(mapping); a write then reaches the model

#include <modbus/modbus.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "guardian/common/result.hpp"
#include "machine_model.hpp"

namespace guardian::sim {

/// Unit id and model name.
struct UnitSpec {
  int id = 1;
  std::string model = "espresso";
};

/// Parses `--units` and `--model`: units as a count N (ids 1..N) or a list of ids and ranges
/// ("1,2,5-7"); models as one name for every unit or one per unit ("espresso,sdm120").
/// Errors say what is wrong. Ids are 1 to 247.
[[nodiscard]] result<std::vector<UnitSpec>> parse_units(const std::string& units,
                                                        const std::string& models);

class SimulatedUnits {
 public:
  /// Throws std::runtime_error for an unknown model or when memory runs out (start-up).
  SimulatedUnits(const std::vector<UnitSpec>& units, double speed, std::uint32_t seed,
                 int bulk_registers);
  ~SimulatedUnits();
  SimulatedUnits(const SimulatedUnits&) = delete;
  SimulatedUnits& operator=(const SimulatedUnits&) = delete;

  /// True when `unit` is served.
  [[nodiscard]] bool serves(int unit) const noexcept;
  /// The first unit id (what Modbus TCP's "this device" ids 0 and 255 mean).
  [[nodiscard]] int first_unit() const noexcept;

  /// Answers `request` (`length` bytes as `ctx`'s backend frames it, checksum included) for
  /// `unit`. Returns false when the answer could not be sent.
  [[nodiscard]] bool answer(modbus_t* ctx, int unit, const std::uint8_t* request, int length);

  /// Advances every machine by `real_seconds` × speed and encodes its registers.
  void tick(double real_seconds);

  [[nodiscard]] std::uint64_t answered() const noexcept { return answered_; }

 private:
  struct MappingDeleter {
    void operator()(modbus_mapping_t* m) const noexcept { modbus_mapping_free(m); }
  };
  struct Unit {
    int id;
    std::unique_ptr<MachineModel> model;
    std::unique_ptr<modbus_mapping_t, MappingDeleter> mapping;
  };

  [[nodiscard]] Unit* find(int unit) noexcept;
  // 0 when `unit` accepts the write `request` carries, else the exception code to answer.
  [[nodiscard]] int check_write(const Unit& unit, const std::uint8_t* pdu,
                                std::vector<std::pair<std::size_t, Value>>& written) const;
  [[nodiscard]] static RegisterTables tables_of(modbus_mapping_t* m);

  std::vector<Unit> units_;
  double speed_;
  std::uint64_t answered_ = 0;
};

}  // namespace guardian::sim
