// examples/user_path.h: where a path the user typed points, for programs run with `bazel run`.
//
// `bazel run` starts a program in its runfiles tree, not where the user typed the command: a
// relative path ("kv9.json") would be read from or written into that tree. Every program here
// (the example servers, tools/simulate, tools/trace_diff) resolves a relative path against
// BUILD_WORKING_DIRECTORY (the user's directory, which `bazel run` sets), and against the current
// directory when run directly; an absolute path stays as it is.
#ifndef EXAMPLES_USER_PATH_H_
#define EXAMPLES_USER_PATH_H_

#include <string>
#include <string_view>

namespace giambio::examples {

std::string user_path(std::string_view path);

}  // namespace giambio::examples

#endif  // EXAMPLES_USER_PATH_H_
