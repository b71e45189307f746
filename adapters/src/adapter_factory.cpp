#include <stdexcept>

#include "guardian/adapters/adapter.hpp"

namespace guardian::adapters {

std::unique_ptr<Adapter> make_adapter(const config::AdapterConfig& config, boost::asio::io_context&,
                                      ReadingSink, RecordSink) {
  // Explicit list of adapter kinds (STYLE.md: no static self-registration).
  return std::visit(
      [](const auto&) -> std::unique_ptr<Adapter> {
        throw std::runtime_error("adapter kind not built yet");
      },
      config);
}

}  // namespace guardian::adapters
