"""A cc_library per pkg-config module, linking what `pkg-config --libs` says.

Headers come from the compiler's default search path (/usr/include)."""

def _impl(rctx):
    out = []
    for m in rctx.attr.modules:
        r = rctx.execute(["pkg-config", "--libs", m])
        if r.return_code != 0:
            fail("pkg-config --libs %s: %s" % (m, r.stderr))
        flags = [f for f in r.stdout.strip().split(" ") if f]
        out.append("cc_library(name = %r, linkopts = %r)" % (m, flags))
    rctx.file("BUILD.bazel", "\n".join([
        'load("@rules_cc//cc:defs.bzl", "cc_library")',
        "",
        'package(default_visibility = ["//visibility:public"])',
        "",
    ] + out) + "\n")

pkg_config_libs = repository_rule(
    implementation = _impl,
    attrs = {"modules": attr.string_list()},
    local = True,
)
