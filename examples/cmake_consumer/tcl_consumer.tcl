# The installed Tcl package, as a script would use it (TIP 427's example):
# start -async connects, do other work, collect them with -connecting, with
# no event loop. Run by build_and_run.sh with TCLLIBPATH=<prefix>/lib/tcltk.
set version [package require tether]
set server [socket -server {apply {{s args} {close $s}}} -myaddr 127.0.0.1 0]
set port [lindex [fconfigure $server -sockname] 2]
set pending {}
for {set i 0} {$i < 10} {incr i} {
    lappend pending [tether::socket -async 127.0.0.1 $port]
}
set deadline [expr {[clock milliseconds] + 10000}]
set done 0
while {[llength $pending] && [clock milliseconds] < $deadline} {
    incr work  ;# other work goes here
    set still {}
    foreach s $pending {
        if {[fconfigure $s -connecting]} {lappend still $s; continue}
        if {[fconfigure $s -error] ne ""} {error "$s: [fconfigure $s -error]"}
        if {[lindex [fconfigure $s -peername] 2] != $port} {error "bad -peername"}
        close $s
        incr done
    }
    set pending $still
}
if {$done != 10} {error "only $done of 10 connects completed"}
puts "tcl: package require tether $version from\
      [file dirname [lindex [package ifneeded tether $version] 1]]: 10 connects"
