// The read planner: coalescing, protocol limits, gaps, overlaps, refused ranges.
#include <gtest/gtest.h>

#include <vector>

#include "guardian/adapters/modbus/read_planner.hpp"

namespace guardian::adapters::modbus {
namespace {

using config::DataType;
using config::ModbusPoint;
using config::RegisterTable;

ModbusPoint at(std::uint16_t address, DataType type = DataType::uint16,
               RegisterTable table = RegisterTable::holding_register) {
  ModbusPoint p;
  p.name = "p" + std::to_string(address);
  p.address = address;
  p.type = type;
  p.table = table;
  return p;
}

ModbusPoint string_at(std::uint16_t address, std::uint16_t length) {
  auto p = at(address, DataType::string);
  p.length = length;
  return p;
}

struct Span {
  RegisterTable table;
  std::uint16_t address;
  std::uint16_t count;
  bool operator==(const Span&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Span& s) {
  return os << "{table " << static_cast<int>(s.table) << ", " << s.address << "+" << s.count << "}";
}

std::vector<Span> spans(const ReadPlan& plan) {
  std::vector<Span> out;
  for (const auto& r : plan.requests) out.push_back({r.table, r.address, r.count});
  return out;
}

constexpr auto kHr = RegisterTable::holding_register;

TEST(ReadPlanner, CoalescesContiguousPointsIntoOneRequest) {
  const std::vector<ModbusPoint> points{at(0, DataType::float32), at(2, DataType::float32),
                                        at(4, DataType::int16), at(5), at(6, DataType::uint32)};
  const auto plan = plan_reads(points);
  EXPECT_EQ(spans(plan), (std::vector<Span>{{kHr, 0, 8}}));
  EXPECT_EQ(plan.requests.at(0).points, (std::vector<std::size_t>{0, 1, 2, 3, 4}));
  EXPECT_TRUE(plan.unreadable.empty());
}

TEST(ReadPlanner, SortsUnsortedPointsAndRemembersTheirIndices) {
  const std::vector<ModbusPoint> points{at(9), at(3), at(0, DataType::float32)};
  const auto plan = plan_reads(points);
  EXPECT_EQ(spans(plan), (std::vector<Span>{{kHr, 0, 10}}));
  EXPECT_EQ(plan.requests.at(0).points, (std::vector<std::size_t>{2, 1, 0}));
}

TEST(ReadPlanner, BridgesAGapUpToTheLimitAndSplitsBeyondIt) {
  // Gap of exactly 8 unused registers (1..8) is bridged.
  EXPECT_EQ(spans(plan_reads(std::vector<ModbusPoint>{at(0), at(9)})),
            (std::vector<Span>{{kHr, 0, 10}}));
  // Gap of 9 is not.
  EXPECT_EQ(spans(plan_reads(std::vector<ModbusPoint>{at(0), at(10)})),
            (std::vector<Span>{{kHr, 0, 1}, {kHr, 10, 1}}));
  // The gap is configurable; zero means only touching points merge.
  ReadPlanLimits strict;
  strict.max_register_gap = 0;
  EXPECT_EQ(spans(plan_reads(std::vector<ModbusPoint>{at(0), at(1), at(3)}, strict)),
            (std::vector<Span>{{kHr, 0, 2}, {kHr, 3, 1}}));
}

TEST(ReadPlanner, NeverAsksForMoreThan125Registers) {
  std::vector<ModbusPoint> points;
  for (std::uint16_t a = 0; a < 250; ++a) points.push_back(at(a));
  EXPECT_EQ(spans(plan_reads(points)), (std::vector<Span>{{kHr, 0, 125}, {kHr, 125, 125}}));
  // A point that would end at register 126 starts a new request instead.
  std::vector<ModbusPoint> edge;
  for (std::uint16_t a = 0; a < 123; ++a) edge.push_back(at(a));
  edge.push_back(at(123, DataType::float32));  // ends exactly at register 124: fits
  edge.push_back(at(125, DataType::float32));
  EXPECT_EQ(spans(plan_reads(edge)), (std::vector<Span>{{kHr, 0, 125}, {kHr, 125, 2}}));
  edge.erase(edge.begin() + 123, edge.end());
  edge.push_back(at(124, DataType::float32));  // would end at register 125: the 126th
  EXPECT_EQ(spans(plan_reads(edge)), (std::vector<Span>{{kHr, 0, 123}, {kHr, 124, 2}}));
}

TEST(ReadPlanner, NeverAsksForMoreThan2000Bits) {
  std::vector<ModbusPoint> points;
  for (std::uint16_t a = 0; a < 2001; ++a)
    points.push_back(at(a, DataType::boolean, RegisterTable::coil));
  EXPECT_EQ(spans(plan_reads(points)),
            (std::vector<Span>{{RegisterTable::coil, 0, 2000}, {RegisterTable::coil, 2000, 1}}));
}

TEST(ReadPlanner, BridgesUpTo64BitsBetweenCoils) {
  const auto coil = [](std::uint16_t a) { return at(a, DataType::boolean, RegisterTable::coil); };
  EXPECT_EQ(spans(plan_reads(std::vector<ModbusPoint>{coil(0), coil(65)})),
            (std::vector<Span>{{RegisterTable::coil, 0, 66}}));
  EXPECT_EQ(spans(plan_reads(std::vector<ModbusPoint>{coil(0), coil(66)})),
            (std::vector<Span>{{RegisterTable::coil, 0, 1}, {RegisterTable::coil, 66, 1}}));
}

TEST(ReadPlanner, KeepsTablesApartAndOrdersThem) {
  const std::vector<ModbusPoint> points{
      at(0, DataType::int16, RegisterTable::input_register), at(0, DataType::float32),
      at(0, DataType::boolean, RegisterTable::discrete_input),
      at(1, DataType::boolean, RegisterTable::coil), at(0, DataType::boolean, RegisterTable::coil)};
  EXPECT_EQ(spans(plan_reads(points)), (std::vector<Span>{{RegisterTable::coil, 0, 2},
                                                          {RegisterTable::discrete_input, 0, 1},
                                                          {kHr, 0, 2},
                                                          {RegisterTable::input_register, 0, 1}}));
}

TEST(ReadPlanner, OverlappingPointsShareTheirRegisters) {
  // A float64 at 10 and the uint16 views of its words, plus a bit of register 11.
  auto bit = at(11, DataType::bit);
  bit.bit = 3;
  const std::vector<ModbusPoint> points{at(10, DataType::float64), at(11), at(12), bit, at(10)};
  const auto plan = plan_reads(points);
  EXPECT_EQ(spans(plan), (std::vector<Span>{{kHr, 10, 4}}));
  EXPECT_EQ(plan.requests.at(0).points.size(), 5U);
  // A point inside a longer one does not shorten the request.
  EXPECT_EQ(spans(plan_reads(std::vector<ModbusPoint>{string_at(0, 20), at(5), at(28)})),
            (std::vector<Span>{{kHr, 0, 29}}));
}

TEST(ReadPlanner, ReportsPointsNoRequestCanRead) {
  const std::vector<ModbusPoint> points{string_at(0, 126), string_at(200, 0),
                                        at(65535, DataType::uint32), at(65535),
                                        string_at(300, 125)};
  const auto plan = plan_reads(points);
  EXPECT_EQ(plan.unreadable, (std::vector<std::size_t>{0, 1, 2}));
  EXPECT_EQ(spans(plan), (std::vector<Span>{{kHr, 300, 125}, {kHr, 65535, 1}}));
}

TEST(ReadPlanner, DoesNotBridgeAGapThroughARefusedRange) {
  const std::vector<ModbusPoint> points{at(0), at(6)};
  const std::vector<AddressRange> refused{{kHr, 2, 3}};
  EXPECT_EQ(spans(plan_reads(points, {}, refused)), (std::vector<Span>{{kHr, 0, 1}, {kHr, 6, 1}}));
  // A refused range in another table changes nothing.
  const std::vector<AddressRange> elsewhere{{RegisterTable::input_register, 2, 3}};
  EXPECT_EQ(spans(plan_reads(points, {}, elsewhere)), (std::vector<Span>{{kHr, 0, 7}}));
}

TEST(ReadPlanner, IsolatesAPointThatOverlapsARefusedRange) {
  const std::vector<ModbusPoint> points{at(0), at(1, DataType::float32), at(3), at(4)};
  const std::vector<AddressRange> refused{{kHr, 2, 2}};
  const auto plan = plan_reads(points, {}, refused);
  EXPECT_EQ(spans(plan), (std::vector<Span>{{kHr, 0, 1}, {kHr, 1, 2}, {kHr, 3, 2}}));
  EXPECT_EQ(plan.requests.at(1).points, (std::vector<std::size_t>{1}));
}

TEST(ReadPlanner, AnEmptyPointListNeedsNoRequest) {
  const auto plan = plan_reads(std::vector<ModbusPoint>{});
  EXPECT_TRUE(plan.requests.empty());
  EXPECT_TRUE(plan.unreadable.empty());
}

}  // namespace
}  // namespace guardian::adapters::modbus
