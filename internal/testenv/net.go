package testenv

import (
	"fmt"
	"net"
	"testing"
)

// ClosedAddr returns a loopback address, 127.0.0.1:PORT, that refuses
// connections for the rest of the test: a service that cannot be reached.
// Where it can (closedPort), the port stays bound to a socket that never
// listens, so no other test's listener can take it in the meantime; a port
// merely listened on and closed again can be handed to the next listener
// the system opens, which then accepts the connection.
func ClosedAddr(t testing.TB) string {
	t.Helper()
	port, release, err := closedPort()
	if err != nil {
		t.Fatalf("reserve a loopback port nothing listens on: %v", err)
	}
	t.Cleanup(release)
	return fmt.Sprintf("127.0.0.1:%d", port)
}

// listenAndClose is the fallback of closedPort: a port just listened on and
// closed again, which the system may give to another listener later.
func listenAndClose() (int, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	return port, func() {}, l.Close()
}
