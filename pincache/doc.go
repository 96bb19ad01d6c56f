// Package pincache supplies PINs for card authentication: it asks the user
// through a Prompt and keeps verified PINs in a Cache that honours the
// cache policy each card gives its PINs (spec PIN_INFO and PIN_CACHE_POLICY,
// "Card PIN Operations").
//
// The pieces:
//
//   - Secret holds PIN bytes. It is wiped (zeroed) when the cache drops it
//     or when its user is done with it, never printed (every formatting
//     verb gives "[REDACTED]") and compared in constant time.
//   - Prompt is told which PIN is wanted (Request: PIN ID, type and
//     purpose, card, attempts left, the caller's context string, whether
//     a previous try failed) and returns the PIN or an error wrapping
//     ErrCancelled. Terminal (no echo), Fixed and Func are ready-made.
//   - Cache keeps verified PINs keyed by card identity (CardID) and PIN ID
//     under the policies Normal (until purged), Timed (Info seconds from
//     insertion), None (never stored) and AlwaysPrompt (never stored, never
//     returned). It is purged on a wrong or blocked PIN (Fail), on a PIN
//     change (Replace), on a change of cardcf's bPinsFreshness
//     (ObserveFreshness), when the card can no longer be confirmed as the
//     same card (PurgeCard) and on request (Purge, PurgeAll).
//   - Source combines the two for one authentication (spec CardAuthenticateEx): the
//     cached PIN when the policy allows it, otherwise a prompt, or an error
//     wrapping ErrSilent in a silent context. The caller reports the card's
//     answer with Attempt.Done: a success is cached per policy, a wrong or
//     blocked PIN purges the cache. A cached PIN that fails is dropped and
//     never retried by this package: the next authentication prompts.
//
// Errors are prefixed "pincache: " and never contain PIN bytes. Code maps
// them to the Windows codes (SCARD_W_CANCELLED_BY_USER, NTE_SILENT_CONTEXT).
//
// # Concurrency
//
// Cache, Source, Fixed and Terminal are safe for concurrent use by several
// goroutines. A Cache keeps each card's PINs under a lock of their own, so
// that operations on different cards do not wait for each other; its one
// lock for all cards is taken only to add or forget a card and to sweep
// expired PINs. Terminal serialises its prompts so that questions never
// interleave. A Secret and an Attempt belong to one goroutine at a time:
// the cache hands out copies (Get), and takes ownership of the Secret
// given to Put or Replace. A Cache does not order authentications on one
// card: two goroutines that take the same cached PIN before either reports
// a failure both use it once. Callers that must never spend two tries on a
// stale PIN (the provider engine) hold their per-card lock from Begin to
// Done, as they do for the whole transaction.
//
// The package keeps no package-level mutable state and never logs or
// prints except through a Terminal's writer.
package pincache
