"""tether's external dependencies, for tether's own WORKSPACE and its users'.

    load("@tether//bazel:deps.bzl", "tether_deps")
    tether_deps()                      # Debian's -dev packages, offline
    tether_deps(source = "upstream")   # pinned release archives (downloads)

Either way the repositories are named after the upstream Bazel modules
(abseil-cpp, googletest, google_benchmark, onetbb), and one the workspace
already declares under the same name wins, so a consumer's own pins take
precedence: declare them before calling tether_deps().

A workspace that already names abseil differently (com_google_absl) maps
tether's name onto its own instead of getting a second copy:

    local_repository(  # or http_archive, git_repository
        name = "tether",
        path = "...",
        repo_mapping = {"@abseil-cpp": "@com_google_absl"},
    )

(repositories are fetched only when used, so the @abseil-cpp that
tether_deps() still declares is never fetched). Under Bzlmod (Bazel 7+),
none of this applies: use bazel_dep(name = "tether") (see MODULE.bazel).
"""

load("@bazel_tools//tools/build_defs/repo:http.bzl", "http_archive")
load("//bazel:system_absl.bzl", "system_absl")

# The upstream archives: the versions Debian 12 (bookworm) ships, so both
# sources build the same code. Nothing can be downloaded where tether is
# developed, so no hash below was computed here: each was read from public
# sources and the same value was found for the same URL in several
# independent ones:
#   abseil-cpp 20220623.1, googletest 1.12.1: the Bazel Central Registry's
#     source.json (SRI integrity, converted to hex) and other projects' pins;
#   google benchmark 1.7.1: Spack's package and several projects' pins;
#   oneTBB 2021.8.0: Homebrew's formula, Drake's pin, an MSYS2 PKGBUILD;
#   bazel_skylib 1.2.1 and platforms: abseil-cpp 20220623.1's own WORKSPACE
#     (abseil's BUILD files load @bazel_skylib and use @platforms//cpu:wasm32,
#     which Bazel 4's bundled @platforms lacks).
# Bazel checks each sha256 on download and fails on a mismatch.
_UPSTREAM = {
    "abseil-cpp": struct(
        sha256 = "91ac87d30cc6d79f9ab974c51874a704de9c2647c40f6932597329a282217ba8",
        strip_prefix = "abseil-cpp-20220623.1",
        url = "https://github.com/abseil/abseil-cpp/archive/refs/tags/20220623.1.tar.gz",
    ),
    "googletest": struct(
        sha256 = "81964fe578e9bd7c94dfdb09c8e4d6e6759e19967e397dbea48d1c10e45d0df2",
        strip_prefix = "googletest-release-1.12.1",
        url = "https://github.com/google/googletest/archive/refs/tags/release-1.12.1.tar.gz",
    ),
    "google_benchmark": struct(
        sha256 = "6430e4092653380d9dc4ccb45a1e2dc9259d581f4866dc0759713126056bc1d7",
        strip_prefix = "benchmark-1.7.1",
        url = "https://github.com/google/benchmark/archive/refs/tags/v1.7.1.tar.gz",
    ),
    "onetbb": struct(
        sha256 = "eee380323bb7ce864355ed9431f85c43955faaae9e9bce35c62b372d7ffd9f8b",
        strip_prefix = "oneTBB-2021.8.0",
        url = "https://github.com/oneapi-src/oneTBB/archive/refs/tags/v2021.8.0.tar.gz",
    ),
    "bazel_skylib": struct(
        sha256 = "f7be3474d42aae265405a592bb7da8e171919d74c16f082a5457840f06054728",
        strip_prefix = "",
        url = "https://github.com/bazelbuild/bazel-skylib/releases/download/1.2.1/bazel-skylib-1.2.1.tar.gz",
    ),
    "platforms": struct(
        sha256 = "a879ea428c6d56ab0ec18224f976515948822451473a80d06c2e50af0bbe5121",
        strip_prefix = "platforms-da5541f26b7de1dc8e04c075c99df5351742a4a2",
        url = "https://github.com/bazelbuild/platforms/archive/da5541f26b7de1dc8e04c075c99df5351742a4a2.zip",
    ),
}

def _maybe(rule, name, **kwargs):
    """Declares a repository unless the workspace already has one by that name."""
    if name not in native.existing_rules():
        rule(name = name, **kwargs)

def _tether_file(path):
    """A label of a file in tether, valid from tether's workspace and any other."""

    # Label() resolves relative to the repository of this .bzl file, so it
    # names tether whatever the consumer calls it.
    return str(Label("//" + path))

def _tree_repository_impl(rctx):
    src = rctx.path(rctx.attr.anchor).dirname.get_child(rctx.attr.directory)
    for entry in src.readdir():
        rctx.symlink(entry, entry.basename)

# A repository made of a directory of tether's source tree. local_repository
# takes a path relative to the *main* workspace, which is wrong from a
# consumer's; this finds the directory through a label instead.
_tree_repository = repository_rule(
    implementation = _tree_repository_impl,
    attrs = {
        "anchor": attr.label(doc = "a file in the directory's parent"),
        "directory": attr.string(doc = "the directory, next to `anchor`"),
    },
    local = True,
)

def _system_deps():
    _maybe(system_absl, "abseil-cpp")
    # cli11 (libcli11-dev, header-only) is tether-probe's flag parser; only
    # //tools/probe uses it, so the upstream source below has no archive.
    for name in ["onetbb", "googletest", "google_benchmark", "cli11"]:
        _maybe(
            native.new_local_repository,
            name,
            path = "/usr",
            build_file = _tether_file("third_party:%s.BUILD" % name),
        )

def _upstream_deps():
    for name, a in _UPSTREAM.items():
        _maybe(
            http_archive,
            name,
            sha256 = a.sha256,
            strip_prefix = a.strip_prefix,
            urls = [a.url],
        )

def tether_deps(source = "system", rules_stand_ins = None):
    """Declares abseil-cpp, onetbb, googletest and google_benchmark.

    Args:
      source: "system" (the default): Debian's libabsl-dev, libtbb-dev,
        libgtest-dev/libgmock-dev and libbenchmark-dev, offline (tether's
        own builds and CI use this). "upstream": the pinned http_archives in
        _UPSTREAM (plus bazel_skylib and platforms, which abseil's BUILD
        files need), built from source.
      rules_stand_ins: whether to declare @rules_cc and @rules_java as the
        small offline stand-ins in third_party/ (native rules re-exported),
        so that Bazel 4-6 need not download them through the WORKSPACE
        suffix. Default: only with source = "system". Pass False when the
        workspace declares the real rules_cc/rules_java itself, after this
        call or not at all (the WORKSPACE suffix then provides them); either
        way a repository the workspace declared before this call wins.
    """
    if source == "system":
        _system_deps()
    elif source == "upstream":
        _upstream_deps()
    else:
        fail("tether_deps: source must be \"system\" or \"upstream\", got %r" % source)

    # Bazel 4's auto-configured C++ toolchain loads @rules_cc//cc:defs.bzl and
    # the JDK toolchains load @rules_java; the default WORKSPACE suffix would
    # download both. Offline, local stand-ins shadow them.
    if rules_stand_ins == None:
        rules_stand_ins = source == "system"
    if not rules_stand_ins:
        return
    for name in ["rules_cc", "rules_java"]:
        _maybe(
            _tree_repository,
            name,
            anchor = _tether_file("third_party:onetbb.BUILD"),
            directory = name,
        )
