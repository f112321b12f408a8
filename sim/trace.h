// sim/trace.h: what happened in a simulated run, in order, with its virtual time.
//
// The simulator records every scheduling decision (which task ran) and every simulated event
// (a segment delivered, a datagram lost, a host crashed, a write torn). Each event folds into a
// stable 64-bit fingerprint of the run: the same seed gives the same fingerprint in every
// process and on every build, and almost any change of behaviour changes it.
//
//   uint64_t f = trace.fingerprint();
//   trace.write_chrome_json(out);   // needs TraceOptions::keep_events; opens in Perfetto
//
// Events are kept in memory only when asked (long sweeps need the fingerprint alone).
#ifndef SIM_TRACE_H_
#define SIM_TRACE_H_

#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"

namespace giambio::sim {

// Where an event happened: a host (0 is the world itself: the test's control task and the
// network between hosts) and a task (0 when no task ran it: a delivery, a timer).
struct TraceEvent {
  absl::Duration time;  // since the start of the run
  uint32_t host = 0;
  uint64_t task = 0;
  std::string what;    // "step", "deliver", "crash", ...
  std::string detail;  // free text: sizes, addresses, paths
  // Messages draw as arrows: the send carries flow_out, the delivery the same id as flow_in.
  uint64_t flow_out = 0;
  uint64_t flow_in = 0;
};

// Something drawn beside the run (a client's operation in a history, sim/history.h): written to
// the Chrome trace as a slice on its own track, never folded into the fingerprint.
struct TraceSlice {
  uint32_t process = 0;  // a pid of its own, named with name_annotation_process
  uint32_t track = 0;
  std::string track_name;
  absl::Duration start;
  absl::Duration duration;
  std::string name;
  std::string detail;
};

class Trace {
 public:
  explicit Trace(bool keep_events) : keep_events_(keep_events) {}

  // Folds an event into the fingerprint, and keeps it (its text copied) with keep_events.
  void record(absl::Duration time, uint32_t host, uint64_t task, std::string_view what,
              std::string_view detail, uint64_t flow_out = 0, uint64_t flow_in = 0);
  // Names for the Chrome trace's tracks.
  void name_host(uint32_t host, std::string name) { host_names_[host] = std::move(name); }
  void name_task(uint32_t host, uint64_t task, std::string name);
  uint64_t new_flow() { return ++last_flow_; }
  // Slices beside the run (kept only with keep_events; not part of the fingerprint).
  void annotate(TraceSlice slice);
  void name_annotation_process(uint32_t process, std::string name) {
    host_names_[process] = std::move(name);
  }

  uint64_t fingerprint() const { return hash_; }
  size_t size() const { return count_; }
  const std::vector<TraceEvent>& events() const { return events_; }
  bool keeps_events() const { return keep_events_; }

  // Chrome trace-event JSON ({"traceEvents": [...]}): hosts are processes, tasks are threads,
  // messages are flow arrows. Perfetto and chrome://tracing open it.
  void write_chrome_json(std::ostream& out) const;

 private:
  void mix(uint64_t value);
  void mix(std::string_view text);

  bool keep_events_;
  uint64_t hash_ = 0xcbf29ce484222325ULL;  // any fixed start (FNV-1a's offset basis)
  size_t count_ = 0;
  uint64_t last_flow_ = 0;
  std::vector<TraceEvent> events_;
  std::vector<TraceSlice> slices_;
  std::map<uint32_t, std::string> host_names_;
  std::map<std::pair<uint32_t, uint64_t>, std::string> task_names_;
};

// JSON string escaping, shared with the tools that write traces.
std::string json_escape(std::string_view text);

}  // namespace giambio::sim

#endif  // SIM_TRACE_H_
