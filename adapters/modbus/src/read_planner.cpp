#include "guardian/adapters/modbus/read_planner.hpp"

#include <algorithm>
#include <array>

#include "guardian/adapters/modbus/register_codec.hpp"

namespace guardian::adapters::modbus {
namespace {

using config::RegisterTable;

// Addresses as 32-bit so that "address + width" and "end of request" never wrap at 65536.
struct Span {
  std::uint32_t first = 0;
  std::uint32_t end = 0;  // exclusive
  std::size_t index = 0;
};

[[nodiscard]] bool overlaps_refused(std::uint32_t first, std::uint32_t end, RegisterTable table,
                                    std::span<const AddressRange> refused) noexcept {
  return std::any_of(refused.begin(), refused.end(), [&](const AddressRange& r) {
    return r.table == table && first <= r.last && end > r.first;
  });
}

void plan_table(RegisterTable table, std::vector<Span>& spans, const ReadPlanLimits& limits,
                std::span<const AddressRange> refused, ReadPlan& plan) {
  const bool bits = is_bit_table(table);
  const std::uint32_t max_count =
      std::max<std::uint32_t>(1, bits ? limits.max_bits : limits.max_registers);
  const std::uint32_t max_gap = bits ? limits.max_bit_gap : limits.max_register_gap;
  std::stable_sort(spans.begin(), spans.end(),
                   [](const Span& a, const Span& b) { return a.first < b.first; });

  ReadRequest* open = nullptr;  // the request points are currently merged into
  std::uint32_t open_end = 0;
  bool open_is_isolated = false;
  for (const Span& s : spans) {
    if (s.end - s.first > max_count) {
      plan.unreadable.push_back(s.index);
      continue;
    }
    const bool isolated = overlaps_refused(s.first, s.end, table, refused);
    bool merge = open != nullptr && !isolated && !open_is_isolated;
    if (merge) {
      const std::uint32_t new_end = std::max(open_end, s.end);
      const bool within_limit = new_end - open->address <= max_count;
      const bool gap_ok = s.first <= open_end || s.first - open_end <= max_gap;
      // Bridging a hole must not read an address the unit refuses.
      const bool hole_clean =
          s.first <= open_end || !overlaps_refused(open_end, s.first, table, refused);
      merge = within_limit && gap_ok && hole_clean;
    }
    if (merge) {
      open_end = std::max(open_end, s.end);
      open->count = static_cast<std::uint16_t>(open_end - open->address);
      open->points.push_back(s.index);
      continue;
    }
    plan.requests.push_back(ReadRequest{table,
                                        static_cast<std::uint16_t>(s.first),
                                        static_cast<std::uint16_t>(s.end - s.first),
                                        {s.index}});
    open = &plan.requests.back();
    open_end = s.end;
    open_is_isolated = isolated;
  }
}

}  // namespace

std::uint16_t span_in_table(const config::ModbusPoint& point) noexcept {
  return is_bit_table(point.table) ? std::uint16_t{1} : point.width();
}

ReadPlan plan_reads(std::span<const config::ModbusPoint> points, const ReadPlanLimits& limits,
                    std::span<const AddressRange> refused) {
  ReadPlan plan;
  constexpr std::array kTables{RegisterTable::coil, RegisterTable::discrete_input,
                               RegisterTable::holding_register, RegisterTable::input_register};
  std::array<std::vector<Span>, kTables.size()> by_table;
  for (std::size_t i = 0; i < points.size(); ++i) {
    const auto& p = points[i];
    const std::uint32_t width = span_in_table(p);
    const std::uint32_t end = std::uint32_t{p.address} + width;
    if (width == 0 || end > 0x10000U) {
      plan.unreadable.push_back(i);
      continue;
    }
    by_table[static_cast<std::size_t>(p.table)].push_back(Span{p.address, end, i});
  }
  // Requests must not move once a pointer to the open one is held: reserve the worst case.
  plan.requests.reserve(points.size());
  for (std::size_t t = 0; t < kTables.size(); ++t)
    plan_table(kTables[t], by_table[t], limits, refused, plan);
  std::sort(plan.unreadable.begin(), plan.unreadable.end());
  return plan;
}

}  // namespace guardian::adapters::modbus
