package gen

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/streamgen/streamgen/gen/model"
	"github.com/streamgen/streamgen/gen/registry"
	"github.com/streamgen/streamgen/gen/spec"
	"github.com/streamgen/streamgen/runtime/codec"
)

// pinStreams keeps, in streamgen.lock, the value schemas of the streams
// whose records do not name their writer by a registry id, and returns the
// lock file to write (nil when the spec needs none).
//
// Raw records carry nothing of their writer: a raw stream whose value
// schema changed since the lock pinned it would read records of the old
// version as the new one, and a removed field's bytes would land in
// another field without an error. So such a change is an error unless the
// stream declares the producers' schema (writerSchema) or acknowledges
// the change (acknowledgeSchemaChange: the new fingerprint).
//
// Single-object records name their writer by fingerprint: every version
// the stream was generated with stays pinned, and the generated job
// resolves records of each (model.Stream.KnownWriters).
func pinStreams(sp *spec.Spec, pkg *model.Package) (*File, error) {
	lock, err := registry.ReadLock(sp)
	if err != nil {
		return nil, err
	}
	existed := lock != nil
	if lock == nil {
		lock = &registry.Lock{}
	}
	var pins []registry.LockStream
	var errs spec.ErrorList
	for i, ms := range pkg.Streams {
		st := &sp.Streams[i]
		if (ms.Encoding != model.Raw && ms.Encoding != model.SingleObject) || ms.Value == nil || ms.Value.Named == nil {
			continue
		}
		cur := ms.Value.Named.Schema
		lfp, err := codec.LogicalFingerprint(cur)
		if err != nil {
			return nil, err
		}
		fp, err := codec.Fingerprint(cur)
		if err != nil {
			return nil, err
		}
		now := fmt.Sprintf("%#016x", lfp)
		pin := registry.LockStream{Stream: st.Name, Encoding: st.Encoding, Value: ms.Value.Named.FullName}
		this := registry.LockVersion{Fingerprint: now, Schema: json.RawMessage(cur)}
		old := lock.Stream(st.Name)
		switch ms.Encoding {
		case model.Raw:
			pin.Versions = []registry.LockVersion{this}
			if old == nil || len(old.Versions) == 0 {
				break
			}
			then := old.Versions[len(old.Versions)-1].Fingerprint
			if then == now || st.WriterSchema != "" || st.AcknowledgeSchemaChange == now {
				break
			}
			if st.AcknowledgeSchemaChange != "" {
				errs = append(errs, sp.Errorf(st.AcknowledgePos, "stream %q: acknowledgeSchemaChange is %s, but the value %s is now %s (pinned in %s: %s); acknowledge the change you are making, or declare writerSchema",
					st.Name, st.AcknowledgeSchemaChange, pin.Value, now, registry.LockFile, then))
				continue
			}
			errs = append(errs, sp.Errorf(st.ValuePos, "stream %q is raw-encoded and its value %s changed since %s pinned it (fingerprint %s, now %s): raw records carry no writer schema, so records written with the pinned version would be read as the new one without an error (a removed field's bytes land in another field). Declare the producers' schema with writerSchema: FILE, or use encoding: single-object, or, if no record of the pinned version will be read again, add acknowledgeSchemaChange: %q to the stream",
				st.Name, pin.Value, registry.LockFile, then, now, now))
			continue
		case model.SingleObject:
			if old != nil {
				pin.Versions = append(pin.Versions, old.Versions...)
			}
			known := false
			for _, v := range pin.Versions {
				if v.Fingerprint == now {
					known = true
					continue
				}
				var compact bytes.Buffer
				if err := json.Compact(&compact, v.Schema); err != nil {
					return nil, fmt.Errorf("%s: stream %s: a pinned schema is not JSON: %w", registry.LockPath(sp), st.Name, err)
				}
				text := compact.String()
				if vfp, err := codec.Fingerprint(text); err == nil && vfp == fp {
					// The same fingerprint: records of both versions read
					// as the current one, which is right only if that
					// does not change what they mean.
					if ce := codec.CheckCompatible(cur, text); ce != nil {
						errs = append(errs, sp.Errorf(st.ValuePos, "stream %q is single-object encoded and its value %s differs from a version %s pins (%s) only in logical types (%v). A single-object fingerprint leaves logical types out, so the job could not tell records of the two apart; add a new field (or use a new topic) instead, or, if no record of the pinned version will be read again, remove that version from %s",
							st.Name, pin.Value, registry.LockFile, v.Fingerprint, ce, registry.LockFile))
					}
					continue
				}
				ms.KnownWriters = append(ms.KnownWriters, text)
			}
			if !known {
				pin.Versions = append(pin.Versions, this)
			}
		}
		pins = append(pins, pin)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	lock.Streams = pins
	if !existed && len(pins) == 0 {
		return nil, nil
	}
	data, err := lock.Encode()
	if err != nil {
		return nil, err
	}
	return &File{Path: registry.LockPath(sp), Data: data, Lock: true}, nil
}
