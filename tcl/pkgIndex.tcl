# tether's Tcl package (issue 19): `package require tether` loads the shared
# library next to this file. Installed by CMake into
# <prefix>/lib/tcltk/tether0.1.0; Bazel puts both in bazel-bin/tcl.
package ifneeded tether 0.1.0 \
    [list load [file join $dir libtether_tcl.so] Tether]
