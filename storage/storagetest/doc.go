// Package storagetest is the one conformance suite of latch's durable
// stores: storage/postgres and storage/memory both call Run, so the two
// behave alike, down to the refresh-token states the protocol relies on
// and the outcome of races. It pins storage.Store and nothing else. It is
// test support only and must never be imported by production code.
package storagetest
