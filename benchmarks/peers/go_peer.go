// go_peer: Go net.Dial connects per second to host:port, K goroutines each
// dialing in a loop; every connection is closed with SetLinger(0), i.e.
// SO_LINGER {1,0}. Standard library only. main sleeps for the duration, reads
// the count and exits.
// Usage: go_peer host port K duration_seconds -> connects_per_sec=<float>
package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"time"
)

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: go_peer host port K duration_seconds")
		os.Exit(2)
	}
	addr := net.JoinHostPort(os.Args[1], os.Args[2])
	k, _ := strconv.Atoi(os.Args[3])
	secs, _ := strconv.ParseFloat(os.Args[4], 64)
	start := time.Now()
	var connects, errors int64
	for i := 0; i < k; i++ {
		go func() {
			for {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					atomic.AddInt64(&errors, 1)
					continue
				}
				atomic.AddInt64(&connects, 1)
				c.(*net.TCPConn).SetLinger(0)
				c.Close()
			}
		}()
	}
	time.Sleep(time.Duration(secs * float64(time.Second)))
	rate := float64(atomic.LoadInt64(&connects)) / time.Since(start).Seconds()
	if n := atomic.LoadInt64(&errors); n > 0 {
		fmt.Fprintf(os.Stderr, "go_peer: %d errors\n", n)
	}
	fmt.Printf("connects_per_sec=%.1f\n", rate)
}
