# tcl_query: Tcl 8.6's connect-state queries, in microseconds per call, on a
# connected loopback socket (its own listener, no sink needed):
# fconfigure -connecting, -error, -sockname and -peername (the last two do a
# reverse lookup of the address on every call); with a port argument (a
# `sink --hang`, where connects stay pending), also -connecting on a socket
# still connecting, TIP 427's polling case.
# Usage: tclsh tcl_query.tcl ?hang_port?
#   -> connecting_us=<f> error_us=<f> sockname_us=<f> peername_us=<f>
#      ?connecting_pending_us=<f>?
# With TETHER_TCL=<dir>, the same script measures tether's channels
# (use_tether.tcl; compare.sh runs it both ways).
source [file join [file dirname [info script]] use_tether.tcl]

# Microseconds per evaluation of `script`, over a run of about 0.3 s sized
# from a first estimate.
proc per_call {script} {
    set est [lindex [time $script 200] 0]
    set n [expr {max(200, int(300000 / max($est, 0.01)))}]
    return [lindex [time $script $n] 0]
}

set srv [socket -server {apply {{s args} {}}} -myaddr 127.0.0.1 0]
set s [socket 127.0.0.1 [lindex [fconfigure $srv -sockname] 2]]
set out {}
foreach opt {connecting error sockname peername} {
    lappend out [format "%s_us=%.3f" $opt [per_call [list fconfigure $s -$opt]]]
}
if {$argc == 1} {
    set p [socket -async 127.0.0.1 [lindex $argv 0]]
    if {![fconfigure $p -connecting]} {error "not pending: [fconfigure $p -error]"}
    lappend out [format "connecting_pending_us=%.3f" \
                     [per_call [list fconfigure $p -connecting]]]
}
puts [join $out]
