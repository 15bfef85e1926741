// Command testcontainers is a Testcontainers for Go user, run by
// tests/testcontainers_test.go in a project's `pixi run` environment: it
// finds the engine only through what the activation exports. Given a local
// busybox image, it prints the engine it found, serves a page from a
// container with busybox httpd, waits for it over HTTP on the mapped port,
// prints what it read there and the socket Ryuk would mount, and removes
// the container.
//
// Usage: testcontainers IMAGE
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// page is what the container serves.
const page = "hello from testcontainers"

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: testcontainers IMAGE")
		os.Exit(2)
	}
	if err := run(context.Background(), os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "testcontainers:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, image string) (err error) {
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return fmt.Errorf("finding the engine (DOCKER_HOST=%q): %w", os.Getenv("DOCKER_HOST"), err)
	}
	defer cli.Close()
	fmt.Printf("engine %s\n", cli.DaemonHost())
	// The default pull policy pulls only an image the engine does not have,
	// and this one is local: nothing is pulled.
	c, err := testcontainers.Run(ctx, image,
		// sh, as the container's PID 1, ends on SIGTERM only with a trap.
		testcontainers.WithCmd("/bin/busybox", "sh", "-c", "mkdir /www && echo '"+page+"' > /www/index.html || exit; "+
			"trap exit TERM; /bin/busybox httpd -f -p 8080 -h /www & wait"),
		testcontainers.WithExposedPorts("8080/tcp"),
		// Minutes, not the default minute: in the VM test the engine may be
		// a guest under QEMU's emulation.
		testcontainers.WithWaitStrategyAndDeadline(5*time.Minute, wait.ForHTTP("/").WithPort("8080/tcp")),
	)
	defer func() { err = errors.Join(err, testcontainers.TerminateContainer(c)) }()
	if err != nil {
		return fmt.Errorf("starting a container of %s: %w", image, err)
	}
	endpoint, err := c.PortEndpoint(ctx, "8080/tcp", "http")
	if err != nil {
		return err
	}
	resp, err := http.Get(endpoint)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("reading %s: %w", endpoint, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", endpoint, resp.Status)
	}
	fmt.Printf("read %s: %s", endpoint, body)
	fmt.Printf("ryuk would mount %s\n", testcontainers.MustExtractDockerSocket(ctx))
	return nil
}
