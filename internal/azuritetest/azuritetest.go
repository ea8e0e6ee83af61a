// Package azuritetest gives tests an Azure Blob Storage emulator:
// Azurite's blob service (the npm package azurite, the emulator
// Microsoft maintains), in memory, run as a process on a free loopback
// port. It honours conditional writes (If-None-Match: *, create only if
// absent, 409 otherwise) as Azure does, which the blob sink's claims
// rest on. `make tools/azurite` installs the version
// tools/azurite/package-lock.json pins into tools/azurite/node_modules;
// STREAMGEN_AZURITE may name another azurite-blob. Where it is missing,
// tests fail in CI (CI=true) and skip elsewhere, saying how to install it.
//
// gocloud.dev/blob's azblob:// driver reaches it through the URL
// (localemu, protocol and domain) and signs with the account and key of
// the environment (see SetEnv).
package azuritetest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"

	"github.com/streamgen/streamgen/internal/faultfront"
)

// Env names the azurite-blob executable, when it is not the
// repository's tools/azurite/node_modules/.bin/azurite-blob.
const Env = "STREAMGEN_AZURITE"

// Account is the emulator's storage account.
const Account = "streamgen"

// key is the account's key: random, one per test process, because
// gocloud's azblob:// opener reads the environment once per process.
var key = sync.OnceValue(func() string {
	b := make([]byte, 64)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
})

// Server is one running emulator with one container.
type Server struct {
	// Host is the emulator's 127.0.0.1:PORT.
	Host string
	// Container is the container Start created.
	Container string
}

// URL is the container's gocloud.dev/blob URL, without credentials (the
// driver reads them from the environment: see SetEnv).
func (s *Server) URL() string { return containerURL(s.Container, s.Host) }

func containerURL(container, host string) string {
	return fmt.Sprintf("azblob://%s?localemu=true&protocol=http&domain=%s", container, host)
}

// Binary returns azurite-blob's path, or skips tb (fails it in CI) when
// there is none.
func Binary(tb testing.TB) string {
	tb.Helper()
	bin := os.Getenv(Env)
	if bin == "" {
		if _, file, _, ok := goruntime.Caller(0); ok {
			bin = filepath.Join(filepath.Dir(file), "..", "..", "tools", "azurite", "node_modules", ".bin", "azurite-blob")
		}
	}
	if st, err := os.Stat(bin); err != nil || st.IsDir() {
		msg := fmt.Sprintf("no Azurite blob emulator at %q: run `make tools/azurite` in the repository (Node.js and npm), or set %s to azurite-blob", bin, Env)
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	return bin
}

// listening is the line Azurite prints once it serves.
var listening = regexp.MustCompile(`listens on http://(127\.0\.0\.1:\d+)`)

// Start runs Azurite's blob service in memory on a free loopback port,
// waits until it listens, sets the environment (SetEnv) so that azblob://
// URLs opened during the test sign with its account's key, and creates a
// container. The emulator is stopped when the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin := Binary(tb)
	cmd := exec.Command(bin, "--blobHost", "127.0.0.1", "--blobPort", "0", "--inMemoryPersistence",
		"--skipApiVersionCheck", "--silent")
	cmd.Dir = tb.TempDir() // for anything it writes beside its memory
	// The key by environment, not arguments: a process listing must not
	// show it.
	cmd.Env = append(os.Environ(), "AZURITE_ACCOUNTS="+Account+":"+key())
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		tb.Fatalf("azurite: %v", err)
	}
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	host, said := make(chan string, 1), &strings.Builder{}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			said.WriteString(sc.Text() + "\n")
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				host <- m[1]
				break
			}
		}
		close(host)
		_, _ = io.Copy(io.Discard, out) // the rest, so it never blocks
	}()
	s := &Server{Container: "warehouse"}
	select {
	case h, ok := <-host:
		if !ok {
			tb.Fatalf("azurite exited before it listened:\n%s", said.String())
		}
		s.Host = h
	case <-time.After(60 * time.Second):
		tb.Fatal("azurite did not listen within 60s")
	}
	s.SetEnv(tb)
	s.NewContainer(tb, s.Container)
	return s
}

// NewContainer creates another container and returns its URL.
func (s *Server) NewContainer(tb testing.TB, name string) string {
	tb.Helper()
	cred, err := azblob.NewSharedKeyCredential(Account, key())
	if err != nil {
		tb.Fatal(err)
	}
	c, err := azblob.NewClientWithSharedKeyCredential("http://"+s.Host+"/"+Account, cred, nil)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.CreateContainer(ctx, name, nil); err != nil {
		tb.Fatalf("azurite: creating container %s: %v", name, err)
	}
	return containerURL(name, s.Host)
}

// SetEnv gives the azblob:// driver the emulator's account and key for
// the rest of the test, shutting out other Azure credentials.
func (s *Server) SetEnv(tb testing.TB) {
	for k, v := range s.Env() {
		tb.Setenv(k, v)
	}
}

// Env is the environment SetEnv sets: for a job run as a subprocess. It
// holds the account's key: do not log it.
func (s *Server) Env() map[string]string {
	return map[string]string{
		"AZURE_STORAGE_ACCOUNT":              Account,
		"AZURE_STORAGE_KEY":                  key(),
		"AZURE_STORAGE_CONNECTION_STRING":    "",
		"AZURE_STORAGEBLOB_CONNECTIONSTRING": "",
		"AZURE_STORAGE_SAS_TOKEN":            "",
		"AZURE_STORAGE_DOMAIN":               "",
		"AZURE_STORAGE_PROTOCOL":             "",
		"AZURE_STORAGE_IS_LOCAL_EMULATOR":    "",
		"AZURE_STORAGE_IS_CDN":               "",
	}
}

// Refusing is a reverse proxy in front of the emulator that answers 403
// AuthorizationFailure (an error the Azure SDK does not retry) to every
// request refuse returns true for, and passes the others on; it returns
// the container's URL through the proxy. Tests use it to stop a sink
// between two of its requests, as a crash there would.
func (s *Server) Refusing(tb testing.TB, refuse func(*http.Request) bool) string {
	return s.faulty(tb, refuse, false)
}

// Losing is as Refusing, but the proxy passes the requests lose returns
// true for on, and answers 503 ServerBusy in place of the response: the
// emulator did what they asked, and the client does not know it. The
// Azure SDK retries such a request.
func (s *Server) Losing(tb testing.TB, lose func(*http.Request) bool) string {
	return s.faulty(tb, lose, true)
}

func (s *Server) faulty(tb testing.TB, match func(*http.Request) bool, lose bool) string {
	tb.Helper()
	// Shared Key signatures cover the path and headers, not the host.
	host := faultfront.Start(tb, &url.URL{Scheme: "http", Host: s.Host}, false, match, lose,
		faultfront.Codes{Refused: "AuthorizationFailure", Lost: "ServerBusy", Header: "x-ms-error-code"})
	return containerURL(s.Container, host)
}
