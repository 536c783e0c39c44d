"""Debian's libabsl-dev exposed under upstream abseil-cpp labels (offline)."""

# package -> {target name: pkg-config module}
_TARGETS = {
    "absl/base": {"base": "absl_base", "core_headers": "absl_core_headers"},
    "absl/cleanup": {"cleanup": "absl_cleanup"},
    "absl/container": {
        "flat_hash_map": "absl_flat_hash_map",
        "inlined_vector": "absl_inlined_vector",
    },
    "absl/functional": {"any_invocable": "absl_any_invocable"},
    "absl/random": {"random": "absl_random_random"},
    "absl/status": {"status": "absl_status", "statusor": "absl_statusor"},
    "absl/strings": {"strings": "absl_strings", "str_format": "absl_str_format"},
    "absl/synchronization": {"synchronization": "absl_synchronization"},
    "absl/time": {"time": "absl_time"},
    "absl/types": {"optional": "absl_optional", "span": "absl_span"},
}

def _system_absl_impl(rctx):
    rctx.symlink(rctx.attr.include_dir + "/absl", "include/absl")
    rctx.file("BUILD.bazel", """cc_library(
    name = "headers",
    hdrs = glob(["include/absl/**/*.h", "include/absl/**/*.inc"]),
    visibility = ["//visibility:public"],
)
""")
    for pkg, targets in _TARGETS.items():
        out = []
        for name, module in targets.items():
            r = rctx.execute(["pkg-config", "--libs", module])
            if r.return_code != 0:
                fail("pkg-config --libs %s failed: %s" % (module, r.stderr))
            flags = [f for f in r.stdout.strip().split(" ") if f]
            out.append(("cc_library(name = %r, linkopts = %r, deps = " +
                        "[\"//:headers\"], visibility = [\"//visibility:public\"])")
                       % (name, flags))
        rctx.file(pkg + "/BUILD.bazel", "\n".join(out) + "\n")

system_absl = repository_rule(
    implementation = _system_absl_impl,
    attrs = {"include_dir": attr.string(default = "/usr/include")},
    local = True,
)
