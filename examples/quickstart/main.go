// Command quickstart shows cardmod at work on the embedded virtual reader
// and a simulated PIV card (a YubiKey 5): no hardware and no pcscd needed.
//
//	go run ./examples/quickstart
//
// It finds the card's plug-in through the registry, reads the card's
// identity and file system, authenticates with the management key to
// generate a P-256 key on the card, verifies the PIN, signs a digest and
// checks the signature, all through the minidriver contract that the Base
// CSP and KSP build on. It ends with the APDU count and a redacted trace of
// the PIN verification.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"

	"github.com/cardmod/cardmod/cardfs"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/virtual"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	// A virtual reader with a simulated YubiKey in it. With scrm/pcsc in
	// place of scrm/virtual the same code runs on the system's readers.
	sim, err := simpiv.New(simpiv.Config{})
	if err != nil {
		return err
	}
	b := virtual.NewBackend()
	b.AddReader("cardmod Virtual Reader 0").Insert(sim)
	sc := scrm.NewContext(b)
	defer sc.Release()

	readers, err := sc.ListReaders(ctx)
	if err != nil {
		return err
	}
	var verifyTrace []string
	tracer := scrm.TracerFunc(func(e *scrm.TraceEvent) {
		if e.RedactedCommand {
			verifyTrace = append(verifyTrace, fmt.Sprintf("> % X (data redacted)\n  < % X", e.Command, e.Response))
		}
	})
	conn, err := sc.Connect(ctx, readers[0], &scrm.ConnectOptions{Tracer: tracer})
	if err != nil {
		return err
	}
	defer conn.Close(scrm.LeaveCard)
	atr, err := scrm.ParseATR(conn.ATR())
	if err != nil {
		return err
	}
	fmt.Printf("reader %q, ATR %s\n", readers[0], atr)

	registry := minidriver.NewRegistry(piv.Plugin{})
	card, match, err := registry.Open(ctx, conn, minidriver.Env{})
	if err != nil {
		return err
	}
	defer card.Close()
	how := "probe"
	if match.ByATR {
		how = "ATR"
	}
	fmt.Printf("plug-in %s, found by %s\n", match.Plugin.Name(), how)

	// One transaction for the whole logical operation, as the providers do.
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.End(scrm.ResetCard) // no login outlives the transaction
	if err := card.Resume(ctx, tx); err != nil {
		return err
	}

	props, err := card.Properties(ctx, tx)
	if err != nil {
		return err
	}
	fmt.Printf("card id %s, serial % X, read-only %v\n", cardfs.CardID(props.GUID), props.Serial, props.ReadOnly)
	files, err := card.ListFiles(ctx, tx, cardfs.MSCPDir)
	if err != nil {
		return err
	}
	fmt.Printf("files in mscp/: %v\n", files)

	// Generating a key needs the management key (ROLE_ADMIN), by challenge
	// and response.
	challenge, err := minidriver.Challenge(ctx, card, tx, minidriver.RoleAdmin)
	if err != nil {
		return err
	}
	response, err := piv.ManagementKeyResponse(simpiv.DefaultManagementKey, challenge)
	if err != nil {
		return err
	}
	if _, err := card.Authenticate(ctx, tx, minidriver.RoleAdmin, response, 0); err != nil {
		return err
	}
	const container = 0 // slot 9A, PIV Authentication
	if err := minidriver.CreateContainer(ctx, card, tx, minidriver.CreateContainerRequest{Index: container, KeySpec: minidriver.ECDSAP256}); err != nil {
		return err
	}
	info, err := card.ContainerInfo(ctx, tx, container)
	if err != nil {
		return err
	}
	pub, ok := info.Signature.(*ecdsa.PublicKey)
	if !ok {
		return fmt.Errorf("unexpected public key %T", info.Signature)
	}
	fmt.Printf("generated a P-%d key in container %d\n", pub.Curve.Params().BitSize, container)

	// A wrong PIN is refused and counted; the right one unlocks the key.
	_, err = card.Authenticate(ctx, tx, minidriver.RoleUser, []byte("000000"), 0)
	var pinErr *minidriver.PINError
	if errors.As(err, &pinErr) {
		fmt.Printf("wrong PIN: %d attempts left\n", pinErr.AttemptsLeft)
	}
	if _, err := card.Authenticate(ctx, tx, minidriver.RoleUser, []byte(simpiv.DefaultPIN), 0); err != nil {
		return err
	}
	digest := sha256.Sum256([]byte("hello, cardmod"))
	before := conn.Stats()
	sig, err := card.SignData(ctx, tx, minidriver.SignRequest{Container: container, KeySpec: minidriver.ECDSAP256, Digest: digest[:]})
	if err != nil {
		return err
	}
	signAPDUs := conn.Stats().Sub(before).APDUs
	fmt.Printf("signature verifies: %v (%d APDU)\n", ecdsa.VerifyASN1(pub, digest[:], sig), signAPDUs)
	// Log out. A PIV card cannot log the management key out by itself:
	// the plug-in says so, and the transaction then ends with a card reset
	// (the deferred End above), as the specification prescribes.
	if err := card.Deauthenticate(ctx, tx, minidriver.NewPinSet(minidriver.RoleUser, minidriver.RoleAdmin)); err != nil {
		fmt.Println("logout needs a card reset:", errors.Is(err, minidriver.ErrUnsupported))
	}

	st := conn.Stats()
	fmt.Printf("%d APDUs, %d bytes sent, %d received; the PIN never reached the tracer:\n", st.APDUs, st.BytesSent, st.BytesReceived)
	for _, line := range verifyTrace {
		fmt.Println(" ", line)
	}
	return nil
}
