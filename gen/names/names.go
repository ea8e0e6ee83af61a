// Package names turns Avro names into Go identifiers and suggests the
// closest known name for a misspelled one.
package names

import (
	"go/token"
	"strings"
	"unicode"

	"github.com/streamgen/streamgen/internal/suggest"
)

// commonInitialisms are written in capitals in Go names (as golint does).
var commonInitialisms = map[string]bool{
	"ACL": true, "API": true, "ASCII": true, "CPU": true, "CSS": true, "DNS": true,
	"EOF": true, "GUID": true, "HTML": true, "HTTP": true, "HTTPS": true, "ID": true,
	"IP": true, "JSON": true, "LHS": true, "QPS": true, "RAM": true, "RHS": true,
	"RPC": true, "SLA": true, "SMTP": true, "SQL": true, "SSH": true, "TCP": true,
	"TLS": true, "TTL": true, "UDP": true, "UI": true, "UID": true, "UUID": true,
	"URI": true, "URL": true, "UTF8": true, "VM": true, "XML": true, "XMPP": true,
	"XSRF": true, "XSS": true,
}

// words splits an identifier at '_', '-', '.', spaces and lower-to-upper
// case changes: "campaign_id" → campaign, id; "userID" → user, ID.
func words(s string) []string {
	var out []string
	var cur []rune
	rs := []rune(s)
	flush := func() {
		if len(cur) > 0 {
			out = append(out, string(cur))
			cur = cur[:0]
		}
	}
	for i, r := range rs {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			flush()
			continue
		case unicode.IsUpper(r) && len(cur) > 0:
			prev := rs[i-1]
			nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
			// "userId" splits before I; "HTTPServer" splits before S.
			if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower) {
				flush()
			}
		}
		cur = append(cur, r)
	}
	flush()
	return out
}

// Camel turns an Avro name into an exported Go identifier with Go's
// initialisms: "geo_point" → "GeoPoint", "campaign_id" → "CampaignID",
// "user_ids" → "UserIDs". A name that would not start with a letter gets an
// "X" in front.
func Camel(s string) string {
	var b strings.Builder
	for _, w := range words(s) {
		up := strings.ToUpper(w)
		switch {
		case commonInitialisms[up]:
			b.WriteString(up)
		case len(up) > 1 && up[len(up)-1] == 'S' && commonInitialisms[up[:len(up)-1]] && w[len(w)-1] == 's':
			b.WriteString(up[:len(up)-1] + "s")
		default:
			r := []rune(w)
			allUpper := strings.ToUpper(w) == w
			b.WriteRune(unicode.ToUpper(r[0]))
			rest := string(r[1:])
			if allUpper {
				rest = strings.ToLower(rest) // SHOUTING_CASE → ShoutingCase
			}
			b.WriteString(rest)
		}
	}
	out := b.String()
	if out == "" || !unicode.IsLetter([]rune(out)[0]) {
		out = "X" + out
	}
	return out
}

// Ident makes s a valid, non-keyword Go identifier, keeping its case.
func Ident(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsLetter(r) || r == '_' || (i > 0 && unicode.IsDigit(r)) {
			b.WriteRune(r)
		} else {
			b.WriteRune('_')
		}
	}
	out := b.String()
	if out == "" {
		out = "_"
	}
	if token.IsKeyword(out) {
		out += "_"
	}
	return out
}

// Suggest returns the candidate closest to s by edit distance when it is
// close enough to be a likely misspelling, or "".
func Suggest(s string, candidates []string) string { return suggest.Closest(s, candidates) }
