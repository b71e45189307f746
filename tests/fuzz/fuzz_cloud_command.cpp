// libFuzzer target for cloud commands: the payload of a message on …/commands, which the broker
// delivers from whoever its ACL lets publish there, parsed into a write request. Built with
// clang 14 by tests/fuzz/CMakeLists.txt.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "guardian/gateway/command_parser.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view payload(reinterpret_cast<const char*>(data), size);
  std::string id;
  auto command = guardian::gateway::parse_command(payload, id);
  // A command that parses names everything a write needs, and the id it will be answered with.
  if (command && (command.value().id.empty() || command.value().source.empty() ||
                  command.value().point.empty() || command.value().id != id))
    std::abort();
  return 0;
}
