#pragma once
/// \file
/// A machine with many registers and nothing else to it, for throughput benchmarks: N holding
/// registers r0 … rN-1 (uint16) that all change on every tick.

#include <cstdint>
#include <span>
#include <vector>

#include "machine_model.hpp"

namespace guardian::sim {

class BulkModel final : public MachineModel {
 public:
  /// `registers`: 1 to 65535.
  explicit BulkModel(int registers);

  [[nodiscard]] std::span<const config::ModbusPoint> register_map() const override { return map_; }
  void advance(double seconds) override;
  /// Register i holds (ticks + i) mod 65536.
  [[nodiscard]] std::vector<Value> values() const override;
  void write(std::size_t, const Value&) override {}

 private:
  std::vector<config::ModbusPoint> map_;
  std::uint64_t ticks_ = 0;
};

}  // namespace guardian::sim
