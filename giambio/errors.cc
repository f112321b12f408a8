#include "giambio/errors.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace giambio {

std::string describe(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (const Cancelled& c) {
    return absl::StrCat("giambio::Cancelled (owned by scope ", c.owner_scope_id(), ")",
                        c.reason() ? ": " : "", c.reason() ? c.reason()->message : "");
  } catch (...) {
    return "unknown exception";
  }
}

MultiError::MultiError(std::vector<std::exception_ptr> errors) : errors_(std::move(errors)) {
  message_ = absl::StrCat(errors_.size(), " errors:");
  for (size_t i = 0; i < errors_.size(); ++i) {
    absl::StrAppend(&message_, " [", i, "] ", describe(errors_[i]));
  }
}

}  // namespace giambio
