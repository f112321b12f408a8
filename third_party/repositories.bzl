"""Offline definitions of every external repository giambio needs.

All of them come from Debian packages installed by tools/bootstrap; nothing is downloaded.
Bazel 4 appends a WORKSPACE suffix that would download rules_cc, rules_java and
remote_coverage_tools; defining them here first stops that.

A workspace that depends on giambio declares it and calls the macro:

    local_repository(name = "giambio", path = "...")
    load("@giambio//third_party:repositories.bzl", "giambio_dependencies")
    giambio_dependencies()
"""

_RULES_CC_DEFS = '''\
"""Forwards the C++ rules to Bazel 4's native ones (Debian's rules_cc is too new for Bazel 4)."""

def cc_library(**attrs):
    native.cc_library(**attrs)

def cc_binary(**attrs):
    native.cc_binary(**attrs)

def cc_test(**attrs):
    native.cc_test(**attrs)

def cc_import(**attrs):
    native.cc_import(**attrs)

def cc_toolchain(**attrs):
    native.cc_toolchain(**attrs)

def cc_toolchain_suite(**attrs):
    native.cc_toolchain_suite(**attrs)

def cc_proto_library(**attrs):
    native.cc_proto_library(**attrs)

def objc_library(**attrs):
    native.objc_library(**attrs)

def objc_import(**attrs):
    native.objc_import(**attrs)

def fdo_profile(**attrs):
    native.fdo_profile(**attrs)

def fdo_prefetch_hints(**attrs):
    native.fdo_prefetch_hints(**attrs)
'''

def _local_rules_cc_impl(ctx):
    ctx.file("WORKSPACE", 'workspace(name = "rules_cc")\n')
    ctx.file("BUILD", "")
    ctx.file("cc/BUILD", 'exports_files(["defs.bzl"])\n')
    ctx.file("cc/defs.bzl", _RULES_CC_DEFS)

_local_rules_cc = repository_rule(implementation = _local_rules_cc_impl)

def _local_coverage_tools_impl(ctx):
    # Only `bazel coverage` runs these; plain builds and tests just need the targets to exist.
    ctx.file("WORKSPACE", 'workspace(name = "remote_coverage_tools")\n')
    ctx.file("BUILD", """\
package(default_visibility = ["//visibility:public"])

filegroup(name = "coverage_report_generator")

filegroup(name = "lcov_merger")
""")

_local_coverage_tools = repository_rule(implementation = _local_coverage_tools_impl)

def giambio_dependencies():
    """Defines rules_cc, rules_java, abseil, GoogleTest, liburing, OpenSSL, Google Benchmark, Asio."""
    existing = native.existing_rules()
    if "rules_cc" not in existing:
        _local_rules_cc(name = "rules_cc")
    if "remote_coverage_tools" not in existing:
        _local_coverage_tools(name = "remote_coverage_tools")
    if "rules_java" not in existing:
        # Debian's bazel-rules-java (4.0.0).
        native.local_repository(name = "rules_java", path = "/usr/share/bazel/rules/java")
    if "com_google_absl" not in existing:
        native.new_local_repository(
            name = "com_google_absl",
            path = "/usr/include/absl",
            build_file = "@giambio//third_party:abseil.BUILD",
        )
    if "com_google_googletest" not in existing:
        native.new_local_repository(
            name = "com_google_googletest",
            path = "/usr/src/googletest",
            build_file = "@giambio//third_party:googletest.BUILD",
        )
    if "liburing" not in existing:
        native.new_local_repository(
            name = "liburing",
            path = "/usr/include/liburing",
            build_file = "@giambio//third_party:liburing.BUILD",
        )
    if "openssl" not in existing:
        native.new_local_repository(
            name = "openssl",
            path = "/usr/include/openssl",
            build_file = "@giambio//third_party:openssl.BUILD",
        )
    if "asio" not in existing:
        native.new_local_repository(
            name = "asio",
            path = "/usr/include/asio",
            build_file = "@giambio//third_party:asio.BUILD",
        )
    if "com_github_google_benchmark" not in existing:
        native.new_local_repository(
            name = "com_github_google_benchmark",
            path = "/usr/include/benchmark",
            build_file = "@giambio//third_party:benchmark.BUILD",
        )
