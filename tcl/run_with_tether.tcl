# run_with_tether.tcl: tclsh with `package require tether; tether::install`
# in effect before anything else runs, for Tcl's own test files
# (tools/tcl_stage.sh). The package comes from auto_path (TCLLIBPATH).
#
#   tclsh run_with_tether.tcl FILE ?ARG ...?   sources FILE as tclsh would
#   tclsh run_with_tether.tcl                  runs commands from stdin as
#                                              they complete, as tclsh does
#                                              when stdin is not a terminal
#
# Tcl's tests start child interpreters with [interpreter]; with
# TETHER_TCL_INTERPRETER set (the stage sets a shell wrapper of this file),
# tcltest's interpreter is that, so those children run with tether::install
# too.
package require tether
tether::install
# TETHER_TCL_STATS: print tether::stats at the end; this process only, not
# the children it starts.
set tether_stats [info exists env(TETHER_TCL_STATS)]
unset -nocomplain env(TETHER_TCL_STATS)

if {$argc > 0} {
    set argv0 [lindex $argv 0]
    set argv [lrange $argv 1 end]
    incr argc -1
    if {[info exists env(TETHER_TCL_INTERPRETER)] && [string match *.test $argv0]} {
        # tcltest's [interpreter], which the tests use to start children.
        package require tcltest
        tcltest::interpreter $env(TETHER_TCL_INTERPRETER)
        namespace import -force ::tcltest::*  ;# as the test files would
    }
    set tether_code [catch {uplevel #0 [list source $argv0]} msg opts]
    if {$tether_code} {puts stderr [dict get $opts -errorinfo]}
    if {$tether_stats} {
        puts "tether::stats [tether::stats]"
    }
    exit [expr {$tether_code != 0}]
}
set tether_command ""
while {[gets stdin line] >= 0} {
    append tether_command $line \n
    if {[info complete $tether_command]} {
        set tether_script $tether_command
        set tether_command ""
        if {[catch {uplevel #0 $tether_script} msg]} {
            puts stderr $msg
        }
    }
}
exit 0
