// tools/user_path.h: where a path the user typed points, for the tools run with `bazel run`.
//
// `bazel run` starts a tool in its runfiles tree, not where the user typed the command: a
// relative path ("kv9.json") would be read from or written into that tree. Every tool resolves
// a relative path against BUILD_WORKING_DIRECTORY (the user's directory, which `bazel run`
// sets), and against the current directory when run directly; an absolute path stays as it is.
#ifndef TOOLS_USER_PATH_H_
#define TOOLS_USER_PATH_H_

#include <string>
#include <string_view>

namespace giambio::tools {

std::string user_path(std::string_view path);

}  // namespace giambio::tools

#endif  // TOOLS_USER_PATH_H_
