// Package faultmatrix holds the fault-matrix test of cardmod's providers
// (packages basecsp and ksp over internal/engine): every operation that
// authenticates or writes, on a simulated PIV and a simulated GIDS card,
// with every fault the virtual reader can inject (reset, removal, a lost
// answer, a transport error after the card executed the command, a
// deadline expiring) at every exchange position. It checks that no wrong
// result is returned, no PIN try is burnt by a retry, no login outlives
// the operation, and a fresh provider without cache, one with the disk
// cache and the original provider all see the same card afterwards.
//
// The package has no API; it exists for its test.
package faultmatrix
