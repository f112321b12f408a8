#include "sim/seeds.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace giambio::sim {

absl::StatusOr<uint64_t> parse_seed(const std::string& text, const std::string& what) {
  uint64_t value = 0;
  if (!absl::SimpleAtoi(text, &value)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, "=", text, ": expected a non-negative integer"));
  }
  return value;
}

absl::StatusOr<std::pair<uint64_t, uint64_t>> parse_seed_range(const std::string& text,
                                                               const std::string& what) {
  const size_t dots = text.find("..");
  if (dots == std::string::npos) {
    absl::StatusOr<uint64_t> count = parse_seed(text, what);
    if (!count.ok() || *count == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, "=", text, ": expected a count N >= 1 or a range A..B"));
    }
    return std::make_pair(uint64_t{0}, *count);
  }
  absl::StatusOr<uint64_t> first = parse_seed(text.substr(0, dots), what);
  absl::StatusOr<uint64_t> end = parse_seed(text.substr(dots + 2), what);
  if (!first.ok() || !end.ok() || *end <= *first) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, "=", text, ": expected a range A..B of integers with A < B"));
  }
  return std::make_pair(*first, *end);
}

}  // namespace giambio::sim
