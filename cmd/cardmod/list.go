package main

import (
	"cmp"
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/cardmod/cardmod/basecsp"
	"github.com/cardmod/cardmod/keystore"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm"
)

func listCommand() *command {
	return &command{
		name:  "list",
		short: "show readers, cards, containers, keys and certificates (like certutil -scinfo)",
		flags: func(fs *flag.FlagSet, o *cmdOpts) {
			fs.BoolVar(&o.json, "json", false, "print JSON")
			fs.BoolVar(&o.ssh, "ssh", false, "print the ECDSA and RSA keys as authorized_keys lines, as the agent names them")
		},
		run: runList,
	}
}

// The shape of `cardmod list --json` (and what the text form shows).
type listing struct {
	Readers []readerEntry `json:"readers"`
}

type readerEntry struct {
	Name  string     `json:"name"`
	Card  *cardEntry `json:"card,omitempty"` // nil: no card in the reader
	Error string     `json:"error,omitempty"`
}

type cardEntry struct {
	ATR           string           `json:"atr,omitempty"`
	Plugin        string           `json:"plugin,omitempty"`
	ID            string           `json:"id,omitempty"`
	Serial        string           `json:"serial,omitempty"`
	ReadOnly      bool             `json:"read_only,omitempty"`
	FreeSpace     *freeSpace       `json:"free_space,omitempty"`
	PIN           *tries           `json:"pin,omitempty"`
	PUK           *tries           `json:"puk,omitempty"`
	Containers    []containerEntry `json:"containers"`
	Error         string           `json:"error,omitempty"`
	TriesError    string           `json:"tries_error,omitempty"`
	ContainersErr string           `json:"containers_error,omitempty"`
}

type freeSpace struct {
	Bytes         int `json:"bytes"` // -1 when the card does not tell
	Containers    int `json:"containers"`
	MaxContainers int `json:"max_containers"`
}

type containerEntry struct {
	Name    string     `json:"name"`
	Index   int        `json:"index"`
	Default bool       `json:"default,omitempty"`
	Keys    []keyEntry `json:"keys"`
	Error   string     `json:"error,omitempty"`
}

type keyEntry struct {
	Spec        string     `json:"spec"`
	Algorithm   string     `json:"algorithm"`
	Bits        int        `json:"bits"`
	Certificate *certEntry `json:"certificate,omitempty"`
	CertError   string     `json:"certificate_error,omitempty"`
}

type certEntry struct {
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	Serial    string    `json:"serial"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	SHA256    string    `json:"sha256"`
}

func newCertEntry(c *x509.Certificate) *certEntry {
	sum := sha256.Sum256(c.Raw)
	return &certEntry{
		Subject: c.Subject.String(), Issuer: c.Issuer.String(), Serial: c.SerialNumber.Text(16),
		NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(), SHA256: hex.EncodeToString(sum[:]),
	}
}

// algorithmOf names a public key's algorithm and size.
func algorithmOf(pub crypto.PublicKey) (string, int) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return "RSA", k.N.BitLen()
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name, k.Curve.Params().BitSize
	case *ecdh.PublicKey:
		if bits := minidriver.PublicKeyBits(k); bits != 0 {
			return fmt.Sprintf("ECDH P-%d", bits), bits
		}
		return "ECDH", 0
	}
	return fmt.Sprintf("%T", pub), 0
}

func runList(ctx context.Context, s *session, o *cmdOpts, args []string) error {
	if len(args) != 0 {
		return usageErrorf("list takes no arguments")
	}
	if o.ssh {
		p, err := s.openProvider(ctx)
		if err != nil {
			return err
		}
		keys, err := listAgentKeys(ctx, p, s.g.reader, nil)
		for _, k := range keys {
			fmt.Fprintf(s.io.out, "%s %s\n", strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k.pub))), k.comment)
		}
		return err
	}
	l, err := collectListing(ctx, s)
	if err != nil {
		return err
	}
	if o.json {
		enc := json.NewEncoder(s.io.out)
		enc.SetIndent("", "  ")
		return enc.Encode(l)
	}
	printListing(s.io.out, l)
	return nil
}

// collectListing reads every reader (or -reader's): a card that cannot be
// read is listed with its error beside the others.
func collectListing(ctx context.Context, s *session) (*listing, error) {
	b, err := s.openBackend(ctx)
	if err != nil {
		return nil, err
	}
	p, err := s.openProvider(ctx)
	if err != nil {
		return nil, err
	}
	sc := scrm.NewContext(b) // not released: the session releases the backend
	readers, err := sc.ListReaders(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing the readers: %w", err)
	}
	if s.g.reader != "" {
		found := false
		for _, r := range readers {
			found = found || r == s.g.reader
		}
		if !found {
			return nil, fmt.Errorf("reader %q: %w", s.g.reader, scrm.ErrUnknownReader)
		}
		readers = []string{s.g.reader}
	}
	states := make([]scrm.ReaderState, len(readers))
	for i, r := range readers {
		states[i] = scrm.ReaderState{Reader: r, Current: scrm.StateUnaware}
	}
	if err := sc.GetStatusChange(ctx, states); err != nil {
		return nil, fmt.Errorf("reading the reader states: %w", err)
	}
	l := &listing{Readers: []readerEntry{}}
	var present []*cardEntry
	var presentReaders []string
	for i, r := range readers {
		re := readerEntry{Name: r}
		st := states[i]
		if st.Event.Has(scrm.StatePresent) {
			ce := &cardEntry{ATR: spaced(st.ATR), Containers: []containerEntry{}}
			re.Card = ce
			present = append(present, ce)
			presentReaders = append(presentReaders, r)
		}
		l.Readers = append(l.Readers, re)
	}
	for i, r := range presentReaders {
		ce := present[i]
		info, err := p.CardInfo(ctx, r) // the card opened in the same transaction
		if err != nil {
			ce.Error = errText(err)
			continue
		}
		ce.Plugin, ce.ID, ce.ReadOnly = info.Plugin, info.ID.String(), info.ReadOnly
		if len(info.Serial) > 0 {
			ce.Serial = serialText(info.Plugin, info.Serial)
		}
		ce.FreeSpace = &freeSpace{Bytes: info.FreeSpace.BytesAvailable, Containers: info.FreeSpace.ContainersAvailable, MaxContainers: info.FreeSpace.MaxContainers}
		pin, puk, err := pinTries(ctx, b, r, info.Plugin)
		if err != nil {
			ce.TriesError = errText(err)
		}
		ce.PIN, ce.PUK = pin, puk
	}
	if err := listContainers(ctx, p, presentReaders, present); err != nil {
		for _, ce := range present {
			if ce.Error == "" {
				ce.ContainersErr = errText(err)
			}
		}
	}
	return l, nil
}

// listContainers fills in the containers, keys and certificates of the
// cards: the containers (basecsp Containers), then every key with its
// public key and certificate (basecsp ListKeys), each a transaction per
// card, whatever the number of containers. What could be read is listed;
// each card, container or certificate that could not be is reported
// beside it.
func listContainers(ctx context.Context, p *basecsp.Provider, readers []string, cards []*cardEntry) error {
	byReader := map[string]*cardEntry{}
	for i, r := range readers {
		if cards[i].Error == "" {
			byReader[r] = cards[i]
		}
	}
	if len(byReader) == 0 {
		return nil
	}
	type at struct{ reader, container string }
	failedAt := map[at]string{}      // a container that could not be read
	certFailed := map[at][]keyFail{} // a key, or its certificate, that could not be read
	report := func(err error) error {
		if err == nil {
			return nil
		}
		var failed keystore.CardErrors
		if !errors.As(err, &failed) {
			return err
		}
		for _, f := range failed {
			ce := byReader[f.Reader]
			switch {
			case ce == nil:
			case f.Container == "":
				ce.ContainersErr = errText(f.Err)
			case f.KeySpec != 0:
				a := at{f.Reader, f.Container}
				certFailed[a] = append(certFailed[a], keyFail{f.KeySpec, errText(f.Err)})
			default:
				failedAt[at{f.Reader, f.Container}] = errText(f.Err)
			}
		}
		return nil
	}
	entries, err := p.Containers(ctx)
	if err := report(err); err != nil {
		return err
	}
	keys, err := p.ListKeys(ctx)
	if err := report(err); err != nil {
		// The containers are listed without their keys.
		for _, ce := range byReader {
			ce.ContainersErr = errText(err)
		}
	}
	keysAt := map[at][]keystore.KeyInfo{}
	for _, k := range keys {
		a := at{k.Reader, k.Container}
		keysAt[a] = append(keysAt[a], k)
	}
	for _, e := range entries {
		ce := byReader[e.Reader]
		if ce == nil {
			continue
		}
		a := at{e.Reader, e.Name}
		ent := containerEntry{Name: e.Name, Index: e.Index, Default: e.Default, Keys: []keyEntry{}, Error: failedAt[a]}
		delete(failedAt, a)
		for _, k := range keysAt[a] {
			alg, bits := algorithmOf(k.Public)
			ke := keyEntry{Spec: specName(k.KeySpec), Algorithm: alg, Bits: bits}
			if k.Certificate != nil {
				ke.Certificate = newCertEntry(k.Certificate)
			}
			for _, f := range certFailed[a] {
				if f.spec == k.KeySpec {
					ke.CertError = f.err
				}
			}
			ent.Keys = append(ent.Keys, ke)
		}
		// A key ListKeys could not read (its public key) is not listed:
		// the container says so.
		for _, f := range certFailed[a] {
			listed := false
			for _, k := range keysAt[a] {
				listed = listed || k.KeySpec == f.spec
			}
			if !listed {
				ent.Error = joinText(ent.Error, specName(f.spec)+" key: "+f.err)
			}
		}
		ce.Containers = append(ce.Containers, ent)
	}
	// Containers the container list could not name (only their errors),
	// in reader and name order.
	left := make([]at, 0, len(failedAt))
	for a := range failedAt {
		left = append(left, a)
	}
	slices.SortFunc(left, func(x, y at) int {
		return cmp.Or(strings.Compare(x.reader, y.reader), strings.Compare(x.container, y.container))
	})
	for _, a := range left {
		if ce := byReader[a.reader]; ce != nil {
			ce.Containers = append(ce.Containers, containerEntry{Name: a.container, Keys: []keyEntry{}, Error: failedAt[a]})
		}
	}
	return nil
}

// keyFail is a key of a container, or its certificate, that a listing
// could not read.
type keyFail struct {
	spec minidriver.KeySpec
	err  string
}

// joinText joins two error texts of one entry.
func joinText(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// specName names a key spec as the command line takes it.
func specName(s minidriver.KeySpec) string {
	switch s {
	case minidriver.KeyExchange:
		return "keyexchange"
	case minidriver.Signature:
		return "signature"
	case minidriver.ECDSAP256:
		return "ecdsa-p256"
	case minidriver.ECDSAP384:
		return "ecdsa-p384"
	case minidriver.ECDSAP521:
		return "ecdsa-p521"
	case minidriver.ECDHP256:
		return "ecdh-p256"
	case minidriver.ECDHP384:
		return "ecdh-p384"
	case minidriver.ECDHP521:
		return "ecdh-p521"
	}
	return s.String()
}

// serialText prints a serial number: a PIV (YubiKey) serial is a 32-bit
// number, as yubico-piv-tool prints it; anything else in hex.
func serialText(plugin string, serial []byte) string {
	if plugin == "PIV" && len(serial) == 4 {
		return fmt.Sprintf("%d", uint32(serial[0])<<24|uint32(serial[1])<<16|uint32(serial[2])<<8|uint32(serial[3]))
	}
	return strings.ToUpper(hex.EncodeToString(serial))
}

// errText is an error for a listing: one line, with the hint.
func errText(err error) string {
	_, line := describe(err)
	return line
}

// clean keeps what a card said printable on a terminal.
func clean(s string) string { return sanitize(s, 256) }

func printListing(w io.Writer, l *listing) {
	if len(l.Readers) == 0 {
		fmt.Fprintln(w, "no readers")
		return
	}
	for i, r := range l.Readers {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "Reader: %s\n", clean(r.Name))
		c := r.Card
		if c == nil {
			fmt.Fprintln(w, "  no card")
			continue
		}
		fmt.Fprintf(w, "  ATR:         %s\n", c.ATR)
		if c.Error != "" {
			fmt.Fprintf(w, "  error:       %s\n", c.Error)
			continue
		}
		fmt.Fprintf(w, "  Card:        %s\n", c.Plugin)
		fmt.Fprintf(w, "  Card ID:     %s\n", c.ID)
		if c.Serial != "" {
			fmt.Fprintf(w, "  Serial:      %s\n", c.Serial)
		}
		if c.ReadOnly {
			fmt.Fprintln(w, "  Read-only:   yes")
		}
		if f := c.FreeSpace; f != nil {
			bytes := "unknown"
			if f.Bytes >= 0 {
				bytes = fmt.Sprintf("%d bytes", f.Bytes)
			}
			fmt.Fprintf(w, "  Free space:  %s, %d of %d containers\n", bytes, f.Containers, f.MaxContainers)
		}
		if c.TriesError != "" {
			fmt.Fprintf(w, "  PIN tries:   %s\n", c.TriesError)
		} else {
			fmt.Fprintf(w, "  PIN tries:   %s\n", c.PIN)
			if c.PUK != nil {
				fmt.Fprintf(w, "  PUK tries:   %s\n", c.PUK)
			}
		}
		if c.ContainersErr != "" {
			fmt.Fprintf(w, "  containers:  %s\n", c.ContainersErr)
			continue
		}
		if len(c.Containers) == 0 {
			fmt.Fprintln(w, "  no containers")
		}
		for _, ct := range c.Containers {
			def := ""
			if ct.Default {
				def = " (default)"
			}
			fmt.Fprintf(w, "  Container %d: %s%s\n", ct.Index, clean(ct.Name), def)
			if ct.Error != "" {
				fmt.Fprintf(w, "    error: %s\n", ct.Error)
			}
			for _, k := range ct.Keys {
				fmt.Fprintf(w, "    Key %s: %s %d\n", k.Spec, k.Algorithm, k.Bits)
				if k.CertError != "" {
					fmt.Fprintf(w, "      certificate: %s\n", k.CertError)
				}
				if ce := k.Certificate; ce != nil {
					fmt.Fprintf(w, "      Subject:    %s\n", clean(ce.Subject))
					fmt.Fprintf(w, "      Issuer:     %s\n", clean(ce.Issuer))
					fmt.Fprintf(w, "      Serial:     %s\n", ce.Serial)
					fmt.Fprintf(w, "      Not before: %s\n", ce.NotBefore.Format(time.RFC3339))
					fmt.Fprintf(w, "      Not after:  %s\n", ce.NotAfter.Format(time.RFC3339))
					fmt.Fprintf(w, "      SHA-256:    %s\n", ce.SHA256)
				}
			}
		}
	}
}
