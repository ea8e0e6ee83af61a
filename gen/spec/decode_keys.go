package spec

import (
	"fmt"
	"go/token"
	"net/url"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"

	"github.com/streamgen/streamgen/runtime/config"
)

func (d *decoder) decodeSpec(root ast.Node, s *Spec) {
	meant := d.object(root, "spec", "", "", fields{
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
		"schemas":  func(p string, v ast.Node) { d.decodeSchemas(v, p, s) },
		"streams":  func(p string, v ast.Node) { d.decodeStreams(v, p, s) },
		"kafka":    func(p string, v ast.Node) { d.decodeKafka(v, p, &s.Job) },
		"batch":    func(p string, v ast.Node) { d.decodeBatch(v, p, &s.Job) },
		"location": func(p string, v ast.Node) { d.decodeLocation(v, p, &s.Job) },
		"workers":  func(p string, v ast.Node) { d.intField(v, p, 0, &s.Job.Workers) },
		"semantics": func(p string, v ast.Node) {
			d.enum(v, p, &s.Job.Semantics)
		},
		"onDecodeError":   func(p string, v ast.Node) { d.enum(v, p, &s.Job.OnDecodeError) },
		"deadLetterTopic": d.optional(func(p string, v ast.Node) { s.Job.DeadLetterTopic, _ = d.topic(v, p, runtime) }),
		"offsets": func(p string, v ast.Node) {
			d.object(v, p, p+".", "in offsets", fields{
				"store": func(p string, v ast.Node) { d.enum(v, p, &s.Job.OffsetsStore) },
				"dsn":   d.optional(func(p string, v ast.Node) { d.runtimeStr(v, p, &s.Job.OffsetsDSN, nil) }),
				"dir":   d.optional(func(p string, v ast.Node) { d.runtimeStr(v, p, &s.Job.OffsetsDir, nil) }),
				"table": d.optional(func(p string, v ast.Node) { d.runtimeStr(v, p, &s.Job.OffsetsTable, tableName) }),
			})
		},
		"sink": func(p string, v ast.Node) {
			d.object(v, p, p+".", "in sink", fields{
				"type":            func(p string, v ast.Node) { d.enum(v, p, &s.Job.SinkType) },
				"dir":             d.optional(func(p string, v ast.Node) { d.runtimeStr(v, p, &s.Job.SinkDir, nil) }),
				"dsn":             d.optional(func(p string, v ast.Node) { d.runtimeStr(v, p, &s.Job.SinkDSN, nil) }),
				"table":           d.optional(func(p string, v ast.Node) { d.runtimeStr(v, p, &s.Job.SinkTable, tableName) }),
				"topic":           d.optional(func(p string, v ast.Node) { s.Job.SinkTopic, _ = d.topic(v, p, runtime) }),
				"transactionalId": d.optional(func(p string, v ast.Node) { d.runtimeStr(v, p, &s.Job.SinkTransactionalID, nil) }),
				"value": func(p string, v ast.Node) {
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
				"key": func(p string, v ast.Node) {
					d.enum(v, p, words{dst: &s.KafkaSink.Key, names: []string{"string", "bytes", "int32", "int64", "none"}})
					s.KafkaSink.KeyPos = d.posOf(v)
				},
				"encoding": func(p string, v ast.Node) {
					d.enum(v, p, words{dst: &s.KafkaSink.Encoding, names: []string{"confluent", "raw", "single-object"}})
				},
				"partitioning": func(p string, v ast.Node) {
					d.enum(v, p, words{dst: &s.KafkaSink.Partitioning, names: []string{"key", "input"}})
				},
			})
		},
		"retries": func(p string, v ast.Node) {
			d.object(v, p, p+".", "in retries", fields{
				"maxFailures": func(p string, v ast.Node) { d.intField(v, p, 1, &s.Job.MaxFailures) },
				"backoff":     func(p string, v ast.Node) { d.duration(v, p, false, &s.Job.RetryBackoff) },
			})
		},
		"shutdown": func(p string, v ast.Node) {
			d.object(v, p, p+".", "in shutdown", fields{
				"graceful": d.removed("a stop is always graceful, and shutdown.timeout bounds it: past the timeout the in-flight batch is abandoned, not stored, and read again on restart"),
				"timeout":  func(p string, v ast.Node) { d.duration(v, p, false, &s.Job.ShutdownTimeout) },
			})
		},
		"status": func(p string, v ast.Node) {
			d.object(v, p, p+".", "in status", fields{
				"addr": func(p string, v ast.Node) { d.runtimeStr(v, p, &s.Job.StatusAddr, statusAddrErr) },
			})
		},
	})
	for _, key := range []string{"version", "name", "streams"} {
		if !d.has(key) && !meant[key] {
			d.errorf(d.at(key), "missing required key %q", key)
		}
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

func (d *decoder) decodeKafka(n ast.Node, p string, k *config.Job) {
	d.object(n, p, p+".", "in kafka", fields{
		"brokers": func(p string, v ast.Node) {
			items, ok := d.list(v, p)
			if !ok {
				return
			}
			if len(items) == 0 {
				d.errorf(d.posOf(v), "%s: at least one broker is required (omit the key for localhost:9092)", p)
				return
			}
			var bs []string
			for _, it := range items {
				var b string
				d.runtimeStr(it, p, &b, hostPortErr)
				if b != "" {
					bs = append(bs, b)
				}
			}
			k.Brokers = bs
		},
		"group": func(p string, v ast.Node) {
			d.runtimeStr(v, p, &k.Group, nonEmpty("group id"))
		},
		"startFrom": func(p string, v ast.Node) {
			sf, ok := d.str(v, p, noRefs)
			if !ok {
				return
			}
			switch {
			case strings.HasPrefix(sf, "timestamp:"):
				if _, err := time.Parse(time.RFC3339, strings.TrimPrefix(sf, "timestamp:")); err != nil {
					d.errorf(d.posOf(v), "%s: %q: the timestamp must be RFC3339, such as timestamp:2024-05-01T00:00:00Z", p, sf)
					return
				}
			case !slices.Contains(startWords, sf):
				d.errorf(d.posOf(v), "%s: invalid value %q; want committed, earliest, latest or timestamp:RFC3339%s", p, sf, didYouMean(sf, startWords))
				return
			}
			if err := k.StartFrom.UnmarshalText([]byte(sf)); err != nil {
				d.errorf(d.posOf(v), "%v", err)
			}
		},
		"resetTo":   func(p string, v ast.Node) { d.enum(v, p, &k.ResetTo) },
		"isolation": func(p string, v ast.Node) { d.enum(v, p, &k.Isolation) },
		"instanceId": d.optional(func(p string, v ast.Node) {
			d.runtimeStr(v, p, &k.InstanceID, nil)
		}),
		"sessionTimeout": func(p string, v ast.Node) { d.duration(v, p, true, &k.SessionTimeout) },
		"outageLimit":    func(p string, v ast.Node) { d.duration(v, p, false, &k.OutageLimit) },
		"tls": func(p string, v ast.Node) {
			d.object(v, p, p+".", "in kafka.tls", fields{
				"enabled":            func(p string, v ast.Node) { d.boolean(v, p, &k.TLS) },
				"ca":                 func(p string, v ast.Node) { d.runtimeStr(v, p, &k.TLSCA, nil) },
				"cert":               func(p string, v ast.Node) { d.runtimeStr(v, p, &k.TLSCert, nil) },
				"key":                func(p string, v ast.Node) { d.runtimeStr(v, p, &k.TLSKey, nil) },
				"insecureSkipVerify": func(p string, v ast.Node) { d.boolean(v, p, &k.TLSInsecureSkipVerify) },
			})
		},
		"sasl": func(p string, v ast.Node) {
			d.object(v, p, p+".", "in kafka.sasl", fields{
				"mechanism": func(p string, v ast.Node) {
					mechs := []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}
					d.runtimeStr(v, p, &k.SASLMechanism, func(m string) string {
						if m != "" && !slices.Contains(mechs, m) {
							return fmt.Sprintf("invalid value %q; want \"\" (no SASL), %s%s", m, orList(mechs), didYouMean(m, mechs))
						}
						return ""
					})
				},
				"username": func(p string, v ast.Node) { d.runtimeStr(v, p, &k.SASLUsername, nil) },
				"password": func(p string, v ast.Node) { d.runtimeStr(v, p, &k.SASLPassword, nil) },
			})
		},
	})
}

func (d *decoder) decodeBatch(n ast.Node, p string, b *config.Job) {
	d.object(n, p, p+".", "in batch", fields{
		"interval":            func(p string, v ast.Node) { d.duration(v, p, true, &b.BatchInterval) },
		"maxRatePerPartition": func(p string, v ast.Node) { d.intMin(v, p, 0, &b.MaxRatePerPartition) },
		"minRatePerPartition": func(p string, v ast.Node) { d.intMin(v, p, 0, &b.MinRatePerPartition) },
		"pollTimeout":         d.removed("nothing read it; a batch's fetch is bounded by batch.interval and the rate limits, and a stop by shutdown.timeout"),
		"backpressure": func(p string, v ast.Node) {
			d.object(v, p, p+".", "in batch.backpressure", fields{
				"enabled":      func(p string, v ast.Node) { d.boolean(v, p, &b.Backpressure) },
				"initialRate":  func(p string, v ast.Node) { d.intMin(v, p, 0, &b.BackpressureInitialRate) },
				"proportional": func(p string, v ast.Node) { d.float(v, p, &b.BackpressureProportional) },
				"integral":     func(p string, v ast.Node) { d.float(v, p, &b.BackpressureIntegral) },
				"derived":      func(p string, v ast.Node) { d.float(v, p, &b.BackpressureDerived) },
				"minRate":      func(p string, v ast.Node) { d.intMin(v, p, 1, &b.BackpressureMinRate) },
			})
		},
	})
}

func (d *decoder) decodeLocation(n ast.Node, p string, l *config.Job) {
	d.object(n, p, p+".", "in location", fields{
		"strategy": func(p string, v ast.Node) { d.enum(v, p, &l.Location) },
		"fixed": d.optional(func(p string, v ast.Node) {
			l.LocationFixed = map[string]string{}
			for _, e := range d.entries(v, p) {
				t, part, ok := strings.Cut(e.key, "/") // topic names hold no '/'
				if _, pok := parsePartition(part); !ok || !pok || topicErr(t) != "" {
					d.errorf(e.keyPos, "%s: key %q must be topic/partition, such as impressions/0", p, e.key)
					continue
				}
				host, ok := d.str(e.val, p+": "+e.key, noRefs)
				if !ok {
					continue
				}
				if strings.TrimSpace(host) == "" {
					d.errorf(d.posOf(e.val), "%s: %s: host or instance must not be empty", p, e.key)
					continue
				}
				l.LocationFixed[e.key] = host
			}
		}),
	})
}

// urlErr explains why u is not a usable registry URL, or returns "".
func urlErr(u string) string {
	pu, err := url.Parse(u)
	if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
		return fmt.Sprintf("%q is not an http or https URL", u)
	}
	return ""
}

// startWords are kafka.startFrom's words besides timestamp:RFC3339.
var startWords = config.StartKind(0).Names()[:config.StartFromTimestamp]

// tableName checks a PostgreSQL table name: table or schema.table.
func tableName(t string) string {
	if !tableRE.MatchString(t) {
		return fmt.Sprintf("%q is not a table name (table or schema.table, unquoted SQL identifiers)", t)
	}
	return ""
}
