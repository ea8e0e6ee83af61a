package spec

import (
	"fmt"
	"go/token"
	"maps"
	"net/url"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

func (d *decoder) decodeSpec(root ast.Node, s *Spec) {
	top := fields{
		"version": func(p string, v ast.Node) {
			x, ok := d.integer(v, p)
			if !ok {
				return
			}
			if x != 1 {
				d.errorf(d.posOf(v), "version: unsupported spec version %d; this streamgen reads version 1", x)
				return
			}
			s.Version = 1
		},
		"name": func(p string, v ast.Node) {
			name, ok := d.str(v, p, noRefs)
			if !ok {
				return
			}
			if !jobNameRE.MatchString(name) {
				d.errorf(d.posOf(v), "name: %q is not a valid job name; it must match [a-z0-9][a-z0-9._-]* (it becomes the group id, metrics prefix and binary name)", name)
				return
			}
			s.Name = name
		},
		"package": func(p string, v ast.Node) {
			pkg, ok := d.str(v, p, noRefs)
			if !ok {
				return
			}
			if msg := packageErr(pkg); msg != "" {
				d.errorf(d.posOf(v), "package: %s", msg)
				return
			}
			s.Package, s.PackagePos = pkg, d.posOf(v)
		},
		"output": func(p string, v ast.Node) {
			out, ok := d.str(v, p, noRefs)
			if !ok {
				return
			}
			if strings.TrimSpace(out) == "" {
				d.errorf(d.posOf(v), "output: must not be empty (omit it to use \"./\" + package)")
				return
			}
			s.Output, s.OutputPos = out, d.posOf(v)
		},
		"schemas": func(p string, v ast.Node) { d.decodeSchemas(v, p, s) },
		"streams": func(p string, v ast.Node) { d.decodeStreams(v, p, s) },
		"tables":  func(p string, v ast.Node) { d.decodeTables(v, p, s) },
		"values":  func(p string, v ast.Node) { d.decodeSideValues(v, p, s) },
	}
	// The job's settings (kafka, batch, sink, ...) are their table's
	// (decode_settings.go).
	fs := d.settingFields(d.settings, d.beside(s))
	maps.Copy(fs, top)
	meant := d.object(root, "spec", "", "", fs)
	for _, key := range []string{"version", "name", "streams"} {
		if !d.has(key) && !meant[key] {
			d.errorf(d.at(key), "missing required key %q", key)
		}
	}
}

// beside are the keys in the objects of the job's settings that are not
// settings: the generator's own (the kafka sink's record), and removed
// keys.
func (d *decoder) beside(s *Spec) map[string]func(string, ast.Node) {
	return map[string]func(string, ast.Node){
		"sink.value": func(p string, v ast.Node) {
			val, ok := d.str(v, p, noRefs)
			if !ok {
				return
			}
			if !avroNameRE.MatchString(val) {
				d.errorf(d.posOf(v), "%s: %q is not an Avro full name such as com.example.ads.EnrichedImpression", p, val)
				return
			}
			s.KafkaSink.Value, s.KafkaSink.ValuePos = val, d.posOf(v)
		},
		"sink.key": func(p string, v ast.Node) {
			d.enum(v, p, words{dst: &s.KafkaSink.Key, names: []string{"string", "bytes", "int32", "int64", "none"}})
			s.KafkaSink.KeyPos = d.posOf(v)
		},
		"sink.encoding": func(p string, v ast.Node) {
			d.enum(v, p, words{dst: &s.KafkaSink.Encoding, names: []string{"confluent", "raw", "single-object"}})
		},
		"sink.partitioning": func(p string, v ast.Node) {
			d.enum(v, p, words{dst: &s.KafkaSink.Partitioning, names: []string{"key", "input"}})
		},
		"batch.pollTimeout": d.removed("nothing read it; a batch's fetch is bounded by batch.interval and the rate limits, and a stop by shutdown.timeout"),
		"shutdown.graceful": d.removed("a stop is always graceful, and shutdown.timeout bounds it: past the timeout the in-flight batch is abandoned, not stored, and read again on restart"),
	}
}

// packageErr explains why pkg cannot be a Go package name, or returns "".
func packageErr(pkg string) string {
	switch {
	case token.IsKeyword(pkg):
		return fmt.Sprintf("%q is a Go keyword and cannot be a package name", pkg)
	case !token.IsIdentifier(pkg):
		return fmt.Sprintf("%q is not a valid Go package name (letters, digits and _, not starting with a digit)", pkg)
	}
	return ""
}

func (d *decoder) decodeSchemas(n ast.Node, p string, s *Spec) {
	d.object(n, p, p+".", "in schemas", fields{
		"files": func(p string, v ast.Node) {
			items, ok := d.list(v, p)
			if !ok {
				return
			}
			for _, it := range items {
				f, ok := d.str(it, p, genTime)
				if !ok {
					continue
				}
				if f == "" {
					d.errorf(d.posOf(it), "%s: empty pattern", p)
					continue
				}
				if _, err := path.Match(filepath.ToSlash(f), ""); err != nil {
					d.errorf(d.posOf(it), "%s: bad glob pattern %q: %v", p, f, err)
					continue
				}
				s.Schemas.Files = append(s.Schemas.Files, f)
				s.Schemas.FilesPos = append(s.Schemas.FilesPos, d.posOf(it))
			}
		},
		"registry": func(p string, v ast.Node) {
			r := &Registry{}
			s.Schemas.Registry = r
			// The connection settings may name variables that are not
			// set: only contacting the registry needs them (see
			// Registry.Unset). unset records which.
			unset := map[string]bool{}
			connection := func(p string, v ast.Node) (string, bool) {
				d.unset = &r.Unset
				n := len(r.Unset)
				x, ok := d.str(v, p, genTime)
				d.unset = nil
				if len(r.Unset) > n {
					unset[p] = true
				}
				return x, ok
			}
			meant := d.object(v, p, p+".", "in schemas.registry", fields{
				"url": func(p string, v ast.Node) {
					// The job's default is the text as written, whether or
					// not its variables are set here.
					r.URLText = rawText(v)
					s.Job.RegistryURL = r.URLText
					u, ok := connection(p, v)
					if !ok {
						return
					}
					if msg := urlErr(u); msg != "" {
						d.errorf(d.posOf(v), "%s: %s", p, msg)
						return
					}
					r.URL = u
				},
				"subjects": func(p string, v ast.Node) { r.Subjects = d.decodeSubjects(v, p) },
				"username": func(p string, v ast.Node) { r.Username, _ = connection(p, v) },
				"password": func(p string, v ast.Node) { r.Password, _ = connection(p, v) },
				"token":    func(p string, v ast.Node) { r.Token, _ = connection(p, v) },
				"tls": func(p string, v ast.Node) {
					r.TLSPos = d.posOf(v)
					// path is the file for generate and check, resolved
					// against the spec's directory; text and job are the
					// value as written, the job's default.
					file := func(path, text, job *string) func(string, ast.Node) {
						return func(p string, v ast.Node) {
							*text = rawText(v)
							*job = *text
							if s, ok := connection(p, v); ok {
								*path = d.relative(s)
							}
						}
					}
					d.object(v, p, p+".", "in schemas.registry.tls", fields{
						"ca":   file(&r.TLS.CA, &r.TLSText.CA, &s.Job.RegistryCA),
						"cert": file(&r.TLS.Cert, &r.TLSText.Cert, &s.Job.RegistryCert),
						"key":  file(&r.TLS.Key, &r.TLSText.Key, &s.Job.RegistryKey),
						"insecureSkipVerify": func(p string, v ast.Node) {
							d.boolean(v, p, &r.TLS.InsecureSkipVerify)
							r.TLSText.InsecureSkipVerify = r.TLS.InsecureSkipVerify
							s.Job.RegistryInsecureSkipVerify = r.TLS.InsecureSkipVerify
						},
					})
					if (r.TLS.Cert == "" && !unset[p+".cert"]) != (r.TLS.Key == "" && !unset[p+".key"]) {
						d.errorf(d.at(p+".cert", p), "%s: cert and key go together", p)
					}
				},
			})
			set := func(key, val string) bool { return val != "" || unset[p+"."+key] }
			token, user, pass := set("token", r.Token), set("username", r.Username), set("password", r.Password)
			if token && (user || pass) {
				d.errorf(d.at(p+".token", p), "%s.token: use a bearer token or a username and password, not both", p)
			}
			if user != pass && !token {
				d.errorf(d.at(p+".username", p), "%s: username and password go together", p)
			}
			if !d.has(p+".url") && !meant["url"] {
				d.errorf(d.at(p+".url", p), "missing required key \"url\" in schemas.registry")
			}
		},
	})
}

func (d *decoder) decodeSubjects(n ast.Node, p string) []Subject {
	items, ok := d.list(n, p)
	if !ok {
		return nil
	}
	var subs []Subject
	seen := map[string]bool{}
	for _, it := range items {
		raw, ok := d.str(it, p, genTime)
		if !ok {
			continue
		}
		sub := Subject{Pos: d.posOf(it)}
		name, ver, pinned := strings.Cut(raw, "@")
		sub.Name = name
		if strings.TrimSpace(name) == "" {
			d.errorf(sub.Pos, "%s: %q has an empty subject name", p, raw)
			continue
		}
		if pinned && ver != "latest" {
			n, err := strconv.Atoi(ver)
			if err != nil || n < 1 {
				d.errorf(sub.Pos, "%s: %q: version must be a positive integer or \"latest\", got %q", p, raw, ver)
				continue
			}
			sub.Version = n
		}
		if seen[name] {
			d.errorf(sub.Pos, "%s: subject %q is listed twice", p, name)
			continue
		}
		seen[name] = true
		subs = append(subs, sub)
	}
	return subs
}

// urlErr explains why u is not a usable registry URL, or returns "".
func urlErr(u string) string {
	pu, err := url.Parse(u)
	if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
		return fmt.Sprintf("%q is not an http or https URL", u)
	}
	return ""
}

// tableName checks a PostgreSQL table name: table or schema.table.
func tableName(t string) string {
	if !tableRE.MatchString(t) {
		return fmt.Sprintf("%q is not a table name (table or schema.table, unquoted SQL identifiers)", t)
	}
	return ""
}
