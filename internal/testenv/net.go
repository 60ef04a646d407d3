package testenv

import (
	"net"
	"testing"
)

// ClosedAddr returns a loopback address, 127.0.0.1:PORT, that nothing
// listens on: a port just listened on and closed again, for a test of a
// service that cannot be reached (the connection is refused at once).
func ClosedAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on a free loopback port: %v", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatalf("close the listener on %s: %v", addr, err)
	}
	return addr
}
