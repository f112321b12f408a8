// Fuzz target for sim/seeds (the --seed and --seeds flags, GIAMBIO_SEED(S)): any text gives a
// range or an InvalidArgument naming the flag; a range is never empty or reversed.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "sim/seeds.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto range = giambio::sim::parse_seed_range(text, "--seeds");
  if (range.ok() && range->first >= range->second) std::abort();
  if (!range.ok() && (range.status().code() != absl::StatusCode::kInvalidArgument ||
                      range.status().message().find("--seeds") == std::string::npos)) {
    std::abort();
  }
  const auto seed = giambio::sim::parse_seed(text, "--seed");
  if (!seed.ok() && range.ok() && text.find("..") == std::string::npos) std::abort();
  return 0;
}
