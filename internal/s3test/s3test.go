// Package s3test gives tests a real S3 server: versitygw over its posix
// backend (a directory; it honours conditional writes, If-None-Match: *,
// as Amazon S3 does), run as a process on a free loopback port. The
// binary is built by `make tools/versitygw` (tools/go.mod pins its
// version) into bin/versitygw, or named by STREAMGEN_VERSITYGW. Where it
// is missing, tests fail in CI (CI=true) and skip elsewhere, saying how
// to build it.
package s3test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/streamgen/streamgen/internal/faultfront"
)

// Env names the versitygw binary, when it is not the repository's
// bin/versitygw.
const Env = "STREAMGEN_VERSITYGW"

// Region is the server's region.
const Region = "us-east-1"

// Server is one running versitygw with one bucket.
type Server struct {
	// Endpoint is the server's http://127.0.0.1:PORT.
	Endpoint string
	// Bucket is the bucket Start created.
	Bucket string
	// Dir is the posix backend's directory: the bucket is Dir/Bucket.
	Dir string

	access, secret string
}

// URL is the bucket's gocloud.dev/blob URL, without credentials (the s3
// driver reads them from the environment: see SetEnv).
func (s *Server) URL() string { return bucketURL(s.Bucket, s.Endpoint) }

func bucketURL(bucket, endpoint string) string {
	return fmt.Sprintf("s3://%s?endpoint=%s&region=%s&use_path_style=true", bucket, endpoint, Region)
}

// NewBucket creates another bucket on the server and returns its URL.
func (s *Server) NewBucket(tb testing.TB, name string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		tb.Fatalf("versitygw: creating bucket %s: %v", name, err)
	}
	return bucketURL(name, s.Endpoint)
}

// Binary returns the versitygw binary's path, or skips tb (fails it in
// CI) when there is none.
func Binary(tb testing.TB) string {
	tb.Helper()
	bin := os.Getenv(Env)
	if bin == "" {
		_, file, _, ok := goruntime.Caller(0)
		if ok {
			bin = filepath.Join(filepath.Dir(file), "..", "..", "bin", "versitygw")
		}
	}
	if st, err := os.Stat(bin); err != nil || st.IsDir() {
		msg := fmt.Sprintf("no versitygw S3 server at %q: run `make tools/versitygw` in the repository (or set %s to its binary)", bin, Env)
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	return bin
}

// Start runs versitygw on a free loopback port over a temporary
// directory, with root credentials made for it, waits until its health
// endpoint answers, creates a bucket, and sets the AWS environment
// (SetEnv) so that the s3 driver of gocloud.dev/blob signs with those
// credentials. The server is stopped when the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin := Binary(tb)
	s := &Server{Dir: tb.TempDir(), Bucket: "warehouse", access: "streamgen" + randHex(6), secret: randHex(20)}
	var err error
	for range 3 { // another process may take the free port before versitygw does
		if err = s.run(tb, bin); err == nil {
			break
		}
	}
	if err != nil {
		tb.Fatal(err)
	}
	s.SetEnv(tb)
	s.NewBucket(tb, s.Bucket)
	return s
}

// run starts the process and waits for its health endpoint.
func (s *Server) run(tb testing.TB, bin string) error {
	tb.Helper()
	port, err := freePort()
	if err != nil {
		return err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	out := &syncBuffer{}
	cmd := exec.Command(bin, "--port", addr, "--health", "/health", "--quiet", "posix", s.Dir)
	// Credentials by environment, not arguments: a process listing must
	// not show them.
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY_ID="+s.access, "ROOT_SECRET_ACCESS_KEY="+s.secret)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("versitygw: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}
	health := "http://" + addr + "/health"
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(health)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case werr := <-exited:
			exited <- werr
			return fmt.Errorf("versitygw exited before it answered (%v):\n%s", werr, out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return fmt.Errorf("versitygw did not answer on %s within 30s:\n%s", health, out.String())
		}
	}
	tb.Cleanup(func() {
		stop()
		if tb.Failed() && out.Len() > 0 {
			tb.Logf("versitygw's output:\n%s", out.String())
		}
	})
	s.Endpoint = "http://" + addr
	return nil
}

// SetEnv points the AWS SDK's environment at the server's credentials for
// the rest of the test, shutting out the machine's own profiles and
// instance roles.
func (s *Server) SetEnv(tb testing.TB) {
	for k, v := range s.Env() {
		tb.Setenv(k, v)
	}
}

// Env is the AWS environment that SetEnv sets: for a job run as a
// subprocess. It holds the secret key: do not log it.
func (s *Server) Env() map[string]string {
	return map[string]string{
		"AWS_ACCESS_KEY_ID":           s.access,
		"AWS_SECRET_ACCESS_KEY":       s.secret,
		"AWS_SESSION_TOKEN":           "",
		"AWS_PROFILE":                 "",
		"AWS_REGION":                  Region,
		"AWS_CONFIG_FILE":             os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
		"AWS_EC2_METADATA_DISABLED":   "true",
	}
}

// Client is an AWS SDK client of the server, for what gocloud.dev/blob
// does not show: conditional writes sent by hand, multipart uploads.
func (s *Server) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.access, s.secret, ""),
	})
}

// Refusing is a reverse proxy in front of the server that answers 403
// AccessDenied (an error the AWS SDK does not retry) to every request
// refuse returns true for, and passes the others on; it returns the
// bucket's URL through the proxy. Tests use it to stop a sink between
// two of its requests, as a crash there would, on a real server.
func (s *Server) Refusing(tb testing.TB, refuse func(*http.Request) bool) string {
	return s.faulty(tb, refuse, false)
}

// Losing is as Refusing, but the proxy passes the requests lose returns
// true for on to the server, and answers 503 ServiceUnavailable in place
// of the response: the server did what they asked, and the client does
// not know it. The AWS SDK retries such a request.
func (s *Server) Losing(tb testing.TB, lose func(*http.Request) bool) string {
	return s.faulty(tb, lose, true)
}

func (s *Server) faulty(tb testing.TB, match func(*http.Request) bool, lose bool) string {
	tb.Helper()
	target, err := url.Parse(s.Endpoint)
	if err != nil {
		tb.Fatal(err)
	}
	// The SigV4 signature covers the Host the client sent.
	host := faultfront.Start(tb, target, true, match, lose, faultfront.Codes{Refused: "AccessDenied", Lost: "ServiceUnavailable"})
	return bucketURL(s.Bucket, "http://"+host)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// syncBuffer is the process's output, written by exec's copying
// goroutine and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func (b *syncBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Len()
}
