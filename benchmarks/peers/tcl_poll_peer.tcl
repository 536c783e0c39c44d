# tcl_poll_peer: Tcl 8.6 connects per second to host:port with
# `socket -async` and no event loop: the caller polls
# `fconfigure $s -connecting` until it reads 0 (each query polls the socket),
# then checks `-error` and closes. K sockets are polled round-robin (the
# comparison runs K=1 and K=200). Tcl cannot set SO_LINGER: close is a plain
# close.
# Usage: tclsh tcl_poll_peer.tcl host port K duration_seconds
#        -> connects_per_sec=<float>
# With TETHER_TCL=<dir>, the same script measures tether's channels
# (use_tether.tcl; compare.sh runs it both ways).
source [file join [file dirname [info script]] use_tether.tcl]
if {$argc != 4} {
    puts stderr "usage: tcl_poll_peer.tcl host port K duration_seconds"
    exit 2
}
lassign $argv host port k secs
set t0 [clock microseconds]
set end [expr {$t0 + int($secs * 1e6)}]
set connects 0
set errors 0
set pending {}
while {[clock microseconds] < $end} {
    while {[llength $pending] < $k} {
        if {[catch {socket -async $host $port} s]} {incr errors; break}
        lappend pending $s
    }
    set still {}
    foreach s $pending {
        if {[fconfigure $s -connecting]} {lappend still $s; continue}
        if {[fconfigure $s -error] eq ""} {incr connects} else {incr errors}
        close $s
    }
    set pending $still
}
set elapsed [expr {([clock microseconds] - $t0) / 1e6}]
if {$errors} {puts stderr "tcl_poll_peer: $errors errors"}
puts [format "connects_per_sec=%.1f" [expr {$connects / $elapsed}]]
