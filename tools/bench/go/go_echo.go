// tools/bench/go/go_echo.go: the same echo server in Go (standard library only), what a Go
// user would reach for. Built by tools/bench/peers.sh with Debian's golang-go; not part of the
// Bazel build.
//
//	go_echo --port=0      # prints "listening on 127.0.0.1:PORT"
//
// One goroutine per connection, a 16 KiB buffer; Go sets TCP_NODELAY itself. GOMAXPROCS follows
// the CPU affinity: echo_bench pins the server to one core, like the others.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
)

func echo(connection net.Conn) {
	defer connection.Close()
	buffer := make([]byte, 16384)
	for {
		n, err := connection.Read(buffer)
		if n > 0 {
			if _, werr := connection.Write(buffer[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func main() {
	port := flag.Int("port", 9500, "Port to listen on (0: any).")
	flag.Parse()
	listener, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		fmt.Fprintf(os.Stderr, "go_echo: listen on port %d: %v\n", *port, err)
		os.Exit(1)
	}
	fmt.Printf("listening on 127.0.0.1:%d\n", listener.Addr().(*net.TCPAddr).Port)
	for {
		connection, err := listener.Accept()
		if err != nil {
			continue
		}
		go echo(connection)
	}
}
