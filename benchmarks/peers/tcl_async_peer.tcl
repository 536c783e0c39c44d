# tcl_async_peer: Tcl 8.6 connects per second to host:port with
# `socket -async` and the event loop: K connects in flight, each completion
# seen by a writable fileevent, checked with `fconfigure -error`, closed, and
# replaced. Tcl cannot set SO_LINGER: close is a plain close.
# Usage: tclsh tcl_async_peer.tcl host port K duration_seconds
#        -> connects_per_sec=<float>
if {$argc != 4} {
    puts stderr "usage: tcl_async_peer.tcl host port K duration_seconds"
    exit 2
}
lassign $argv host port k secs
set connects 0
set errors 0

proc start {} {
    if {[catch {socket -async $::host $::port} s]} {
        incr ::errors
        after 1 start
        return
    }
    fileevent $s writable [list done $s]
}

proc done {s} {
    if {[fconfigure $s -error] eq ""} {incr ::connects} else {incr ::errors}
    close $s
    start
}

set t0 [clock microseconds]
for {set i 0} {$i < $k} {incr i} start
after [expr {int($secs * 1000)}] {set ::finished 1}
vwait ::finished
set elapsed [expr {([clock microseconds] - $t0) / 1e6}]
if {$errors} {puts stderr "tcl_async_peer: $errors errors"}
puts [format "connects_per_sec=%.1f" [expr {$connects / $elapsed}]]
exit 0
