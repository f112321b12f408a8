#include "sim/history.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "giambio/errors.h"

namespace giambio::sim {

std::string describe(const OpRecord& operation) {
  const Op& op = operation.op;
  std::string text;
  switch (op.kind) {
    case Op::Kind::kRead:
      text = absl::StrCat("read ", op.key);
      if (operation.outcome == Outcome::kOk) absl::StrAppend(&text, " -> '", operation.result, "'");
      break;
    case Op::Kind::kWrite:
      text = absl::StrCat("write ", op.key, "='", op.value, "'");
      break;
    case Op::Kind::kCas:
      text = absl::StrCat("cas ", op.key, " '", op.expected, "'->'", op.value, "'");
      if (operation.outcome == Outcome::kOk) {
        absl::StrAppend(&text, operation.cas_succeeded ? " -> ok" : " -> not found");
      }
      break;
  }
  if (operation.outcome == Outcome::kUnknown) absl::StrAppend(&text, " (outcome unknown)");
  if (operation.outcome == Outcome::kFailed) absl::StrAppend(&text, " (failed)");
  return text;
}

OpId History::invoke(uint32_t client, Op op) {
  if (hand_made_) {
    throw UsageError("History::invoke: this history was made by hand with add(); record or add");
  }
  recorded_ = true;
  OpRecord operation;
  operation.id = operations_.size();
  operation.client = client;
  operation.host = clock_.host ? clock_.host() : 0;
  operation.task = clock_.task ? clock_.task() : 0;
  operation.op = std::move(op);
  operation.invoked = clock_.now ? clock_.now() : absl::ZeroDuration();
  operation.invoked_order = ++last_order_;
  operations_.push_back(std::move(operation));
  return operations_.back().id;
}

OpRecord& History::pending(OpId id, const char* call) {
  if (id >= operations_.size()) {
    throw UsageError(absl::StrCat("History::", call, "(", id, "): no such operation (",
                                  operations_.size(), " recorded)"));
  }
  OpRecord& operation = operations_[id];
  if (operation.outcome != Outcome::kUnknown || operation.completed_order != UINT64_MAX) {
    throw UsageError(absl::StrCat("History::", call, "(", id, "): ", describe(operation),
                                  " has completed already"));
  }
  return operation;
}

void History::finish(OpRecord& operation, Outcome outcome) {
  operation.outcome = outcome;
  operation.completed = clock_.now ? clock_.now() : absl::ZeroDuration();
  operation.completed_order = ++last_order_;
}

void History::ok(OpId id, std::string result) {
  OpRecord& operation = pending(id, "ok");
  if (operation.op.kind == Op::Kind::kCas) {
    throw UsageError(absl::StrCat("History::ok(", id, "): a cas completes with ok_cas"));
  }
  operation.result = std::move(result);
  finish(operation, Outcome::kOk);
}

void History::ok_cas(OpId id, bool succeeded) {
  OpRecord& operation = pending(id, "ok_cas");
  if (operation.op.kind != Op::Kind::kCas) {
    throw UsageError(
        absl::StrCat("History::ok_cas(", id, "): ", describe(operation), " is not a cas"));
  }
  operation.cas_succeeded = succeeded;
  finish(operation, Outcome::kOk);
}

void History::fail(OpId id) { finish(pending(id, "fail"), Outcome::kFailed); }

OpId History::add(uint32_t client, Op op, absl::Duration invoked, absl::Duration completed,
                  Outcome outcome, std::string result, bool cas_succeeded) {
  if (recorded_) {
    throw UsageError("History::add: this history is being recorded with invoke(); record or add");
  }
  if (outcome != Outcome::kUnknown && completed < invoked) {
    throw UsageError(absl::StrCat("History::add: completed at ", absl::FormatDuration(completed),
                                  " before it was invoked at ", absl::FormatDuration(invoked)));
  }
  hand_made_ = true;
  OpRecord operation;
  operation.id = operations_.size();
  operation.client = client;
  operation.op = std::move(op);
  operation.outcome = outcome;
  operation.result = std::move(result);
  operation.cas_succeeded = cas_succeeded;
  operation.invoked = invoked;
  operation.completed = outcome == Outcome::kUnknown ? absl::InfiniteDuration() : completed;
  operations_.push_back(std::move(operation));
  orders_stale_ = true;
  return operations_.back().id;
}

const std::vector<OpRecord>& History::operations() const {
  if (!orders_stale_) return operations_;
  // The real order of hand-made operations, from their times: at equal times invocations come
  // first (so two operations that meet at one instant are concurrent), then the order of adding.
  std::vector<std::tuple<absl::Duration, int, OpId>> events;
  events.reserve(2 * operations_.size());
  for (const OpRecord& each : operations_) {
    events.emplace_back(each.invoked, 0, each.id);
    if (each.outcome != Outcome::kUnknown) events.emplace_back(each.completed, 1, each.id);
  }
  std::sort(events.begin(), events.end());
  uint64_t order = 0;
  for (const auto& [time, phase, id] : events) {
    (phase == 0 ? operations_[id].invoked_order : operations_[id].completed_order) = ++order;
  }
  orders_stale_ = false;
  return operations_;
}

void History::annotate(Trace& trace, const std::set<OpId>& witness) const {
  if (!trace.keeps_events()) return;  // annotations are drawn only in a kept trace
  absl::Duration end = absl::ZeroDuration();
  for (const OpRecord& operation : operations()) {
    end = std::max(end, operation.invoked);
    if (operation.outcome != Outcome::kUnknown) end = std::max(end, operation.completed);
  }
  trace.name_annotation_process(kHistoryTrack, "history");
  for (const OpRecord& operation : operations_) {
    const bool marked = witness.contains(operation.id);
    TraceSlice slice;
    slice.process = kHistoryTrack;
    slice.track = operation.client;
    slice.track_name = absl::StrCat("client ", operation.client);
    slice.start = operation.invoked;
    slice.duration =
        (operation.outcome == Outcome::kUnknown ? end : operation.completed) - operation.invoked;
    slice.name = (marked ? "NOT LINEARIZABLE: " : "") + describe(operation);
    slice.detail = absl::StrCat("operation ", operation.id, " on host ", operation.host, ", task ",
                                operation.task);
    trace.annotate(std::move(slice));
  }
}

}  // namespace giambio::sim
