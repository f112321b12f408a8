#include "giambio/channel.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace giambio {
namespace {

constexpr char kClosed[] = "this handle is closed";
constexpr char kBroken[] = "broken channel: every receive handle is closed";
constexpr char kEnd[] = "end of channel: every send handle is closed and the buffer is empty";
constexpr char kWouldBlock[] = "would block";

bool has(const absl::Status& status, absl::StatusCode code, const char* text) {
  return status.code() == code && absl::StrContains(status.message(), text);
}

}  // namespace

bool is_closed(const absl::Status& s) {
  return has(s, absl::StatusCode::kFailedPrecondition, kClosed);
}
bool is_broken(const absl::Status& s) { return has(s, absl::StatusCode::kAborted, kBroken); }
bool is_end_of_channel(const absl::Status& s) {
  return has(s, absl::StatusCode::kOutOfRange, kEnd);
}
bool is_would_block(const absl::Status& s) {
  return has(s, absl::StatusCode::kUnavailable, kWouldBlock);
}

namespace internal {

absl::Status channel_closed(const char* operation) {
  return absl::FailedPreconditionError(absl::StrCat(operation, ": ", kClosed));
}
absl::Status channel_broken(const char* operation) {
  return absl::AbortedError(absl::StrCat(operation, ": ", kBroken));
}
absl::Status channel_end(const char* operation) {
  return absl::OutOfRangeError(absl::StrCat(operation, ": ", kEnd));
}
absl::Status channel_would_block(const char* operation) {
  return absl::UnavailableError(absl::StrCat(operation, ": ", kWouldBlock));
}

}  // namespace internal
}  // namespace giambio
