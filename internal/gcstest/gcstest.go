// Package gcstest gives tests a Google Cloud Storage emulator:
// fake-gcs-server (github.com/fsouza/fake-gcs-server/fakestorage) in the
// test's process, in memory, served over plain HTTP on a free loopback
// port by a front of this package's (see Refusing).
// It honours the JSON API's preconditions (ifGenerationMatch=0: create
// only if absent, 412 otherwise) atomically, as GCS does, which the blob
// sink's claims rest on. Nothing is to be built or installed.
//
// gocloud.dev/blob's gs:// driver reaches it through STORAGE_EMULATOR_HOST
// (see SetEnv), read when a bucket is opened, with no credentials.
package gcstest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"
)

// EmulatorEnv is the variable gocloud's gs:// driver (and Google's
// storage client) read the emulator's host:port from.
const EmulatorEnv = "STORAGE_EMULATOR_HOST"

// Server is one running emulator with one bucket.
type Server struct {
	// Host is the host:port the emulator is reached at (through the
	// front that Refusing adds its rules to).
	Host string
	// Bucket is the bucket Start created.
	Bucket string

	fake  *fakestorage.Server
	proxy *httputil.ReverseProxy

	mu      sync.Mutex
	aliases map[string]fault // by bucket alias
}

// fault is what the front does to the requests of a bucket alias that
// match picks: refuse them, or (lose) pass them on and answer 503 in
// place of the emulator's response.
type fault struct {
	match func(*http.Request) bool
	lose  bool
}

// URL is the bucket's gocloud.dev/blob URL. The driver finds the
// emulator by the environment: see SetEnv.
func (s *Server) URL() string { return "gs://" + s.Bucket }

// Start runs the emulator in memory, served on a free loopback port by a
// front of this package's (which passes every request on to it, but for
// the refusals Refusing adds), creates a bucket, and sets the environment
// (SetEnv) so that gs:// URLs opened during the test reach it. The
// server is stopped when the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{Bucket: "warehouse", aliases: map[string]fault{}}
	front := httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	fake, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		Scheme:     "http",
		NoListener: true, // the front is its listener
		// Resumable uploads' session URLs must come back through the
		// front, like every other request; and Google's client reads
		// objects by the XML API's /BUCKET/OBJECT on the emulator's
		// host, which the emulator routes so only for its public host.
		ExternalURL: "http://" + front.Listener.Addr().String(),
		PublicHost:  front.Listener.Addr().String(),
		Writer:      io.Discard,
	})
	if err != nil {
		front.Close()
		tb.Fatalf("fake-gcs-server: %v", err)
	}
	s.fake = fake
	target := &url.URL{Scheme: "http", Host: front.Listener.Addr().String()}
	s.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = target.Host // SetURL clears it; the emulator's routes read it
		},
		Transport: fake.HTTPClient().Transport,
	}
	front.Start()
	tb.Cleanup(func() {
		front.Close()
		fake.Stop()
	})
	s.Host = front.Listener.Addr().String()
	s.SetEnv(tb)
	s.NewBucket(tb, s.Bucket)
	return s
}

// NewBucket creates another bucket on the server and returns its URL.
func (s *Server) NewBucket(tb testing.TB, name string) string {
	tb.Helper()
	s.fake.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: name})
	return "gs://" + name
}

// SetEnv points the gs:// driver at the emulator for the rest of the
// test. The driver then sends no credentials, and looks for none.
func (s *Server) SetEnv(tb testing.TB) {
	for k, v := range s.Env() {
		tb.Setenv(k, v)
	}
}

// Env is the environment SetEnv sets: for a job run as a subprocess.
func (s *Server) Env() map[string]string {
	return map[string]string{EmulatorEnv: s.Host}
}

// Refusing returns the URL of another name for the bucket, under which
// the emulator's front answers 403 Forbidden (an error Google's storage
// client does not retry) to every request refuse returns true for, and
// passes the others on to the bucket itself. Tests use it to stop a sink
// between two of its requests, as a crash there would. The requests
// refuse sees name the bucket, not its alias.
func (s *Server) Refusing(tb testing.TB, refuse func(*http.Request) bool) string {
	return s.alias(fault{match: refuse})
}

// Losing is as Refusing, but the front passes the requests lose returns
// true for on to the bucket, and answers 503 Service Unavailable in
// place of the response: the emulator did what they asked, and the
// client does not know it. Google's storage client retries such a
// request when it is idempotent (a create with ifGenerationMatch=0 is).
func (s *Server) Losing(tb testing.TB, lose func(*http.Request) bool) string {
	return s.alias(fault{match: lose, lose: true})
}

func (s *Server) alias(f fault) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	alias := s.Bucket + "-fault-" + strconv.Itoa(len(s.aliases)+1)
	s.aliases[alias] = f
	return "gs://" + alias
}

// serve is the front: it renames a bucket alias in the request's path
// (the JSON API's /b/BUCKET/, the XML API's /BUCKET/ of reads) to the
// bucket, applies the alias's fault and passes the request on.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	var f fault
	for alias, af := range s.aliases {
		if renameBucket(r.URL, alias, s.Bucket) {
			f = af
			break
		}
	}
	s.mu.Unlock()
	if f.match == nil || !f.match(r) {
		s.proxy.ServeHTTP(w, r)
		return
	}
	code, why := http.StatusForbidden, "refused"
	if f.lose {
		s.proxy.ServeHTTP(httptest.NewRecorder(), r)
		code, why = http.StatusServiceUnavailable, "response lost"
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	fmt.Fprintf(w, `{"error":{"code":%d,"message":"%s by the test's front"}}`, code, why)
}

// renameBucket replaces the path segment from with to in u, and says
// whether it did.
func renameBucket(u *url.URL, from, to string) bool {
	seg := func(p string) string {
		p = strings.ReplaceAll(p, "/"+from+"/", "/"+to+"/")
		if strings.HasSuffix(p, "/"+from) {
			p = strings.TrimSuffix(p, from) + to
		}
		return p
	}
	path := seg(u.Path)
	if path == u.Path {
		return false
	}
	u.Path = path
	if u.RawPath != "" {
		u.RawPath = seg(u.RawPath)
	}
	return true
}
