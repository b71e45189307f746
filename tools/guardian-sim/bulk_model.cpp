#include "bulk_model.hpp"

#include <algorithm>
#include <string>

namespace guardian::sim {

BulkModel::BulkModel(int registers) {
  const int n = std::clamp(registers, 1, 65535);
  map_.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i)
    map_.push_back(map_point("r" + std::to_string(i), config::RegisterTable::holding_register,
                             static_cast<std::uint16_t>(i), config::DataType::uint16));
}

void BulkModel::advance(double /*seconds*/) { ++ticks_; }

std::vector<Value> BulkModel::values() const {
  std::vector<Value> v;
  v.reserve(map_.size());
  for (std::size_t i = 0; i < map_.size(); ++i) v.emplace_back(std::uint64_t{(ticks_ + i) % 65536});
  return v;
}

}  // namespace guardian::sim
