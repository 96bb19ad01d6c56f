package cspcore

import (
	"context"
	"errors"
	"fmt"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/internal/engine"
	"github.com/cardmod/cardmod/keystore"
	"github.com/cardmod/cardmod/minidriver"
)

// ListKeys lists every key of every card present, with its card, its
// container and address, its algorithm, size and public key, its
// certificate and the PIN it needs. Container information, PINs and
// certificates come from the data cache while cardcf says they are fresh.
// A card that cannot be read, a container whose keys or PIN cannot be
// read, and a certificate that cannot be read are reported in a
// CardErrors returned beside the rest (see listCards); a key whose
// certificate cannot be read is listed without it. After Close it fails
// with keystore.ErrClosed.
func (c *Core) ListKeys(ctx context.Context) ([]keystore.KeyInfo, error) {
	if err := c.CheckOpen(); err != nil {
		return nil, err
	}
	return listContainers(ctx, c, containerList{info: true}, c.keysOf)
}

// keysOf lists the keys of container record r of card ec, whose public
// keys are info. It returns an error only when the card fails
// (cardLevel); what one object lacks it reports with bad.
func (c *Core) keysOf(ec *engine.Card, op *engine.Op, r cardfs.ContainerMapRecord, info minidriver.ContainerInfo, bad func(*CardError)) ([]keystore.KeyInfo, error) {
	ct := &Container{Ref: c.NewRef(ec), Name: r.Name, Index: r.Index, Default: r.Default(), Info: info}
	if len(ct.KeySpecs()) == 0 {
		return nil, nil
	}
	objectErr := func(what string, spec minidriver.KeySpec, err error) error {
		if cardLevel(err) {
			return fmt.Errorf("container %q: %s: %w", r.Name, what, err)
		}
		bad(&CardError{Container: r.Name, KeySpec: spec, Err: err})
		return nil
	}
	pin, err := op.ContainerPIN(r.Index)
	if err != nil {
		return nil, objectErr("PIN", 0, err)
	}
	addr, err := minidriver.ContainerAddress(op.Context(), op.Card(), op.Tx(), r.Index)
	switch {
	case errors.Is(err, minidriver.ErrUnsupported):
		addr = nil
	case err != nil:
		if err := objectErr("address", 0, err); err != nil {
			return nil, err
		}
		addr = nil // listed without its address
	}
	var out []keystore.KeyInfo
	for _, spec := range ct.KeySpecs() {
		pub, bits, err := ct.keyPublic(spec)
		if err != nil {
			bad(&CardError{Container: r.Name, KeySpec: spec, Err: err})
			continue
		}
		cert, err := c.readCert(op, r.Index, spec.Slot())
		switch {
		case errors.Is(err, keystore.ErrNoCertificate):
			cert = nil
		case err != nil:
			if err := objectErr("certificate", spec, err); err != nil {
				return nil, err
			}
			cert = nil // listed without its certificate
		}
		out = append(out, keystore.KeyInfo{Reader: ec.Reader(), CardID: ec.ID(), Plugin: ec.Plugin(), Container: r.Name,
			Default: r.Default(), Address: addr, KeySpec: spec, Bits: bits, Public: pub, Certificate: cert, PIN: pin})
	}
	return out, nil
}
