"""tether's external dependencies, as Debian system packages (offline)."""

load("//bazel:system_absl.bzl", "system_absl")

def _maybe(rule, name, **kwargs):
    """Declares a repository unless the workspace already has one by that name."""
    if name not in native.existing_rules():
        rule(name = name, **kwargs)

def tether_deps():
    """Declares abseil-cpp, onetbb, googletest and google_benchmark.

    Each comes from the system (Debian's libabsl-dev, libtbb-dev,
    libgtest-dev/libgmock-dev and libbenchmark-dev); a repository the
    workspace already declares under the same name wins.
    """
    _maybe(system_absl, "abseil-cpp")
    _maybe(
        native.new_local_repository,
        "onetbb",
        path = "/usr",
        build_file = "@tether//third_party:onetbb.BUILD",
    )
    _maybe(
        native.new_local_repository,
        "googletest",
        path = "/usr",
        build_file = "@tether//third_party:googletest.BUILD",
    )
    _maybe(
        native.new_local_repository,
        "google_benchmark",
        path = "/usr",
        build_file = "@tether//third_party:google_benchmark.BUILD",
    )

    # Bazel 4's auto-configured C++ toolchain loads @rules_cc//cc:defs.bzl and
    # the JDK toolchains load @rules_java; the default WORKSPACE suffix would
    # download both. Local stubs shadow them.
    _maybe(native.local_repository, "rules_cc", path = "third_party/rules_cc")
    _maybe(native.local_repository, "rules_java", path = "third_party/rules_java")
