# use_tether.tcl, sourced by the Tcl peers: with TETHER_TCL=<dir> in the
# environment, loads tether's Tcl package (issue 19) from <dir> and runs
# tether::install, so the peer's `socket` calls make tether channels;
# without it, does nothing (Tcl's own socket).
if {[info exists env(TETHER_TCL)]} {
    lappend auto_path $env(TETHER_TCL)
    package require tether
    tether::install
}
