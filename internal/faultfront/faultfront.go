// Package faultfront puts a front before a test's object store server: a
// reverse proxy that passes requests on, but refuses those a test picks,
// or passes them on and loses their responses. Tests use it to stop a
// sink between two of its requests, as a crash there would, and to make
// an SDK retry a request the server already carried out.
package faultfront

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"
)

// Codes are the store's error codes for the front's two answers, put in
// an XML <Error> body (the S3 and Azure shape) and, when Header is set,
// in that header too (Azure's x-ms-error-code).
type Codes struct {
	// Refused is the code of a 403 that the store's SDK does not retry.
	Refused string
	// Lost is the code of a 503 that the SDK retries.
	Lost   string
	Header string
}

// Start runs the front before target until the test ends and returns its
// host:port. It answers 403 (codes.Refused) to every request match
// returns true for; with lose, it passes those on to target instead and
// answers 503 (codes.Lost) in place of the response: the server did what
// they asked, and the client does not know it. keepHost passes the
// client's Host header on (a signature that covers it, as SigV4's does).
func Start(tb testing.TB, target *url.URL, keepHost bool, match func(*http.Request) bool, lose bool, codes Codes) string {
	tb.Helper()
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		if keepHost {
			pr.Out.Host = pr.In.Host
		}
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !match(r) {
			proxy.ServeHTTP(w, r)
			return
		}
		code, status, why := codes.Refused, http.StatusForbidden, "refused"
		if lose {
			proxy.ServeHTTP(httptest.NewRecorder(), r)
			code, status, why = codes.Lost, http.StatusServiceUnavailable, "response lost"
		}
		w.Header().Set("Content-Type", "application/xml")
		if codes.Header != "" {
			w.Header().Set(codes.Header, code)
		}
		w.WriteHeader(status)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s by the test's proxy</Message></Error>`, code, why)
	}))
	tb.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}
