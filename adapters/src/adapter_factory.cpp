#include <variant>

#include "guardian/adapters/adapter.hpp"
#include "guardian/adapters/modbus/modbus_adapter.hpp"
#include "guardian/adapters/stream/stream_adapter.hpp"

namespace guardian::adapters {
namespace {

// One overload per adapter kind (STYLE.md: an explicit list, no static self-registration).
// A new alternative in config::AdapterConfig fails to compile here until it is wired in.
struct AdapterBuilder {
  boost::asio::io_context& io;
  ReadingSink& readings;
  RecordSink& records;

  std::unique_ptr<Adapter> operator()(const config::ModbusAdapterConfig& c) const {
    // Modbus produces readings only; records come from the frame-based adapters.
    return std::make_unique<modbus::ModbusAdapter>(c, io, std::move(readings));
  }

  std::unique_ptr<Adapter> operator()(const config::StreamAdapterConfig& c) const {
    return std::make_unique<stream::StreamAdapter>(c, io, std::move(readings), std::move(records));
  }
};

}  // namespace

std::unique_ptr<Adapter> make_adapter(const config::AdapterConfig& config,
                                      boost::asio::io_context& io, ReadingSink readings,
                                      RecordSink records) {
  return std::visit(AdapterBuilder{io, readings, records}, config);
}

}  // namespace guardian::adapters
