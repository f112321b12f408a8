#include "examples/user_path.h"

#include <cstdlib>

namespace giambio::examples {

std::string user_path(std::string_view path) {
  if (path.empty() || path.front() == '/') return std::string(path);
  const char* directory = std::getenv("BUILD_WORKING_DIRECTORY");
  if (directory == nullptr || *directory == '\0') return std::string(path);
  std::string resolved = directory;
  if (resolved.back() != '/') resolved += '/';
  resolved += path;
  return resolved;
}

}  // namespace giambio::examples
