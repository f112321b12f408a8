// sim/trace_reader.h: reads a trace written by Trace::write_chrome_json back, and finds the
// first point where two traces diverge.
//
// Two runs of one scenario and seed must produce the same trace. When they do not (a change of
// behaviour, or lost determinism), the first differing event says where to look: its virtual
// time, its host and task, and what happened.
//
//   absl::StatusOr<ChromeTrace> a = read_chrome_trace(text_a);  // any bytes: errors, no crash
//   std::optional<Divergence> d = first_divergence(*a, *b);    // nullopt: identical
//   std::cout << describe_divergence(*a, *b, d);
//
// The reader is a complete JSON parser (RFC 8259) with a nesting limit, so arbitrary input gives
// an error naming the byte offset, never a crash or unbounded recursion. It accepts Chrome
// trace-event JSON from other tools too: either {"traceEvents": [...]} or a bare array; unknown
// keys are ignored.
#ifndef SIM_TRACE_READER_H_
#define SIM_TRACE_READER_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace giambio::sim {

// One trace event as it was written. Two records are equal when every field is.
struct TraceRecord {
  std::string phase;    // "X" an event, "s"/"f" a message sent/delivered, "M" a name
  std::string name;     // "step", "deliver", "process_name", ...
  int64_t time_ns = 0;  // virtual time; 0 for names
  uint64_t host = 0;    // pid
  uint64_t task = 0;    // tid
  std::string detail;   // args.detail of an event, args.name of a name record
  uint64_t flow = 0;    // id of a message arrow

  friend bool operator==(const TraceRecord&, const TraceRecord&) = default;
};

struct ChromeTrace {
  std::vector<TraceRecord> events;  // timed records, in file order
  std::vector<TraceRecord> names;   // "M" records, in file order
  std::map<uint64_t, std::string> host_names;
  std::map<std::pair<uint64_t, uint64_t>, std::string> task_names;
};

// Parses trace-event JSON. Errors are InvalidArgument naming the byte offset and what was
// expected there. Nesting deeper than kJsonDepthMax is refused.
inline constexpr int kJsonDepthMax = 64;
absl::StatusOr<ChromeTrace> read_chrome_trace(std::string_view json);

// Where two traces first differ: the index into `events` (or into `names` when every event
// agrees). An index equal to one trace's size means that trace ended there.
struct Divergence {
  bool in_names = false;
  size_t index = 0;
};
std::optional<Divergence> first_divergence(const ChromeTrace& a, const ChromeTrace& b);

// A few lines for people: "identical (N events)", or the last common event and the two
// differing ones with virtual time, host and task (with their names) and the event.
std::string describe_divergence(const ChromeTrace& a, const ChromeTrace& b,
                                const std::optional<Divergence>& divergence);

}  // namespace giambio::sim

#endif  // SIM_TRACE_READER_H_
