#pragma once
/// \file
/// The read planner: turns the points of one Modbus unit into as few read requests as the
/// protocol allows. Pure (no I/O, no libmodbus), computed once when an adapter starts.
///
/// Per table, points are sorted by address and merged greedily into one request while the
/// merged span stays within the protocol limit and the hole between the request so far and the
/// next point is at most the configured gap (reading a few unused registers costs less than
/// another round trip). Overlapping points share their registers. Address ranges the unit is
/// known to refuse (exception 02) are never covered by a bridged gap; a point that itself
/// overlaps a refused range gets a request of its own so its failure cannot spoil its neighbours.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "guardian/config/site_config.hpp"

namespace guardian::adapters::modbus {

/// Most registers one Read Holding/Input Registers request may ask for
/// (Modbus Application Protocol V1.1b3 §6.3/§6.4: quantity 1 to 125, MODBUS_MAX_READ_REGISTERS).
inline constexpr std::uint16_t kMaxReadRegisters = 125;
/// Most bits one Read Coils/Discrete Inputs request may ask for
/// (Modbus Application Protocol V1.1b3 §6.1/§6.2: quantity 1 to 2000, MODBUS_MAX_READ_BITS).
inline constexpr std::uint16_t kMaxReadBits = 2000;

/// How requests are formed. The defaults are the protocol maxima and small bridging gaps.
struct ReadPlanLimits {
  std::uint16_t max_registers = kMaxReadRegisters;  ///< per FC03/FC04 request (1–125)
  std::uint16_t max_bits = kMaxReadBits;            ///< per FC01/FC02 request (1–2000)
  std::uint16_t max_register_gap = 8;  ///< unused registers read to avoid another request
  std::uint16_t max_bit_gap = 64;      ///< unused bits read to avoid another request
};

/// An inclusive range of addresses in one table, e.g. one the unit answers with exception 02.
struct AddressRange {
  config::RegisterTable table = config::RegisterTable::holding_register;
  std::uint16_t first = 0;
  std::uint16_t last = 0;  ///< inclusive
};

/// One read request: `count` registers/bits of `table` from `address`, serving `points`.
struct ReadRequest {
  config::RegisterTable table = config::RegisterTable::holding_register;
  std::uint16_t address = 0;
  std::uint16_t count = 0;
  std::vector<std::size_t> points;  ///< indices into the planned span, ascending by address
};

/// The requests for one unit, plus the points no request can read.
struct ReadPlan {
  /// Grouped by table (coils, discrete inputs, holding, input), ascending by address.
  std::vector<ReadRequest> requests;
  /// Points that cannot be read at all: zero width, wider than one request, or running past
  /// address 65535. The caller reports them as Quality::bad.
  std::vector<std::size_t> unreadable;
};

/// Plans the reads for `points` (any order, duplicates and overlaps allowed). Deterministic;
/// never throws except std::bad_alloc.
[[nodiscard]] ReadPlan plan_reads(std::span<const config::ModbusPoint> points,
                                  const ReadPlanLimits& limits = {},
                                  std::span<const AddressRange> refused = {});

/// Number of addresses (registers, or bits for coil/discrete tables) a point occupies in its table.
[[nodiscard]] std::uint16_t span_in_table(const config::ModbusPoint& point) noexcept;

}  // namespace guardian::adapters::modbus
