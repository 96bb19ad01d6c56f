// Package keystore holds what cardmod's two providers share with their
// users, declared once: the Base CSP (package basecsp) and the Smart Card
// KSP (package ksp) are both opened with a Config, find keys with a
// KeyQuery, name containers in the forms ParseName splits, list keys as
// KeyInfo and the user certificate store as CertEntry values, report what
// a listing could not read as CardErrors, and fail with one sentinel per
// meaning (ErrClosed, ErrExists, ErrNoCertificate, ErrBadName).
// basecsp.Config and ksp.Config (and each one's KeyQuery) are aliases of
// these types, so that a program that uses one provider can name them
// there; everything else is named here only. A key made through one
// provider is a key of the other: both run over the same engine, which
// reads these settings.
//
// As crypto/tls's Config, a Config is a plain value whose zero fields mean
// their documented defaults, resolved where the setting is used; opening
// a provider does not modify it, and one Config may open several
// providers (each gets its own PIN cache and card connections).
//
// The package imports no card plug-in: the default plug-in list
// (minidriver/plugins.NewRegistry) is what each provider passes to the
// engine when Registry is nil.
package keystore

import (
	"io"
	"time"

	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/pincache"
	"github.com/cardmod/cardmod/scrm"
)

// Config configures a provider (basecsp.Open, ksp.Open). Only Backend is
// required; the zero value of every other field is the documented
// default.
type Config struct {
	// Backend is where the cards are: scrm/pcsc for the system's readers,
	// scrm/virtual for simulated ones. It belongs to the caller: closing
	// a provider leaves it usable by others.
	Backend scrm.Backend
	// Registry lists the card plug-ins; nil means plugins.NewRegistry()
	// (package minidriver/plugins: PIV, then GIDS).
	Registry *minidriver.Registry
	// Prompt asks for PINs; nil means never prompt (as Silent).
	Prompt pincache.Prompt
	// Silent forbids any prompt (CAPI's CRYPT_SILENT, CNG's
	// NCRYPT_SILENT_FLAG): an operation that needs a PIN that is not
	// cached (nor, in ksp, set through "SmartCardPin") fails with an
	// error wrapping pincache.ErrSilent. PIN changes pass the silent flag
	// to the card's plug-in.
	Silent bool
	// CacheDir, if not empty, keeps public card data (files, container
	// information; never PINs) on disk under it, so that a new process
	// trusts what an earlier one read while cardcf says it is fresh.
	// Cards whose plug-in's cache mode is not global are cached in memory
	// only. Empty means no disk cache (data is cached in memory for the
	// provider's lifetime) unless UseDiskCache is set.
	CacheDir string
	// UseDiskCache, with CacheDir empty, keeps the disk cache under
	// os.UserCacheDir()/cardmod.
	UseDiskCache bool
	// NoCache turns the data cache off (memory and disk): everything is
	// read from the card in every operation.
	NoCache bool
	// Exclusive connects to cards exclusively (other applications are
	// kept out until Close) instead of shared, for high-rate signing: as
	// nobody else can reach the card, a PIN whose cache policy is Normal
	// stays verified between operations and cardcf is not re-read until
	// the card is reset; Close resets the card to end the login. PINs
	// that must be asked for every time (PIV slot 9C) are still logged
	// out.
	Exclusive bool
	// Rand is the source of randomness (container and key names, PSS
	// salts, implicit rejection, session keys); nil means crypto/rand.
	Rand io.Reader
	// Now is the clock of the PIN cache; nil means time.Now.
	Now func() time.Time
	// AdminResponse, if set, authenticates ROLE_ADMIN (the card's admin
	// key, on PIV the management key) for every operation that writes to
	// the card: creating and deleting containers (keys), writing
	// certificates, the container map, msroots and cardcf (which PIN
	// changes bump). Without it such operations authenticate the user PIN
	// only, which is enough on cards whose files the user may write (and
	// on a YubiKey with a PIN-protected management key); elsewhere they
	// fail with an error matching minidriver.ErrSecurityViolation.
	//
	// The responder (spec CardGetChallenge and CardAuthenticateChallenge)
	// learns which card asks (minidriver.AdminChallenge: plug-in, reader,
	// card identity, serial, the key's algorithm) beside the challenge, so
	// one provider can write to cards of several kinds and with different
	// keys; one that declines a card (minidriver.ErrNoAdminKey) leaves
	// that card's writes to the user PIN. The plug-in packages provide the
	// responders of their cards' keys (minidriver/piv.ManagementKey,
	// minidriver/gids.AdminKey) and minidriver.AdminResponders combines
	// them:
	//
	//	AdminResponse: minidriver.AdminResponders(
	//		piv.ManagementKey(pivKey), gids.AdminKey(gidsKey)),
	AdminResponse minidriver.AdminResponder
}
