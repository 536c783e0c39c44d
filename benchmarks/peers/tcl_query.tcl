# tcl_query: Tcl 8.6's connect-state queries, in microseconds per call, on a
# connected loopback socket (its own listener, no sink needed):
# fconfigure -connecting, -error, -sockname and -peername (the last two do a
# reverse lookup of the address on every call).
# Usage: tclsh tcl_query.tcl -> connecting_us=<f> error_us=<f> sockname_us=<f>
#                               peername_us=<f>
# With TETHER_TCL=<dir>, the same script measures tether's channels
# (use_tether.tcl; compare.sh runs it both ways).
source [file join [file dirname [info script]] use_tether.tcl]
set srv [socket -server {apply {{s args} {}}} -myaddr 127.0.0.1 0]
set s [socket 127.0.0.1 [lindex [fconfigure $srv -sockname] 2]]
set out {}
foreach opt {connecting error sockname peername} {
    set script [list fconfigure $s -$opt]
    # Size the run to about 0.3 s from a first estimate.
    set est [lindex [time $script 200] 0]
    set n [expr {max(200, int(300000 / max($est, 0.01)))}]
    lappend out [format "%s_us=%.3f" $opt [lindex [time $script $n] 0]]
}
puts [join $out]
