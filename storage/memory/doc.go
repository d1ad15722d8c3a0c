// Package memory is latch's durable store held in memory, for
// `latch serve --dev`: nothing persists across restarts. It fulfils the same
// contract as storage/postgres (both pass storagetest.Run), including the
// refresh-token semantics and their race behaviour, so that dev mode
// behaves as production does.
//
// One mutex guards everything: this store serves one developer, and a
// single lock makes every method trivially atomic. Values are copied in and
// out, so a caller never shares memory with the store. Its transactions
// are empty (BeginTx returns ctx as is): RotateRefreshToken's check-and-set
// under the lock is what makes two racing refreshes have one winner. It
// must never be used where data has to survive a restart.
package memory
