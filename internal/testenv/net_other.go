//go:build !unix

package testenv

// closedPort is listenAndClose where sockets are not reserved here.
func closedPort() (int, func(), error) { return listenAndClose() }
