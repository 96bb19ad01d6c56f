package ksp

import (
	"context"
	"crypto/x509"
	"fmt"

	"github.com/cardmod/cardmod/minidriver"
)

// Property names (the NCRYPT_*_PROPERTY strings); see the package doc for
// each one's Go type.
const (
	PropSmartCardPin            = "SmartCardPin"
	PropSmartCardReader         = "SmartCardReader"
	PropSmartCardGUID           = "SmartCardGuid"
	PropSmartCardKeyCertificate = "SmartCardKeyCertificate"
	PropSmartCardPinID          = "SmartCardPinId"
	PropSmartCardPinInfo        = "SmartCardPinInfo"
	PropSmartCardUserCertStore  = "SmartCardUserCertStore"
	PropSmartCardRootCertStore  = "SmartcardRootCertStore"
	PropAlgorithmGroup          = "Algorithm Group"
	PropAlgorithmName           = "Algorithm Name"
	PropLength                  = "Length"
	PropKeyUsage                = "Key Usage"
	PropUniqueName              = "Unique Name"
	PropExportPolicy            = "Export Policy"
)

func propErr(name string, err error) error { return &PropertyError{Name: name, Err: err} }

// Property returns the value of the property called name; the package
// doc lists the names and their Go types. An unknown name is a
// *PropertyError matching ErrUnknownProperty; a property of the card
// (certificate, PIN) asked of a key not finalized yet needs the card the
// key's name selects.
func (k *Key) Property(ctx context.Context, name string) (any, error) {
	if err := k.p.core.CheckOpen(); err != nil {
		return nil, propErr(name, err)
	}
	switch name {
	case PropAlgorithmGroup:
		return k.alg.Group(), nil
	case PropAlgorithmName:
		return k.alg, nil
	case PropLength:
		return k.Bits(), nil
	case PropKeyUsage:
		k.mu.Lock()
		defer k.mu.Unlock()
		return k.usage, nil
	case PropUniqueName:
		return k.Name(), nil
	case PropExportPolicy:
		return ExportPolicy(0), nil
	case PropSmartCardPin:
		return nil, propErr(name, ErrWriteOnly)
	case PropSmartCardUserCertStore:
		v, err := k.p.Certificates(ctx)
		if err != nil {
			// What could be read is returned beside the keystore.CardErrors.
			return v, propErr(name, err)
		}
		return v, nil
	case PropSmartCardPinID:
		v, err := k.PIN(ctx)
		if err != nil {
			return nil, propErr(name, err)
		}
		return v, nil
	case PropSmartCardPinInfo:
		v, err := k.PINInfo(ctx)
		if err != nil {
			return nil, propErr(name, err)
		}
		return v, nil
	case PropSmartCardReader, PropSmartCardGUID, PropSmartCardKeyCertificate, PropSmartCardRootCertStore:
	default:
		return nil, propErr(name, ErrUnknownProperty)
	}
	ref, ck, err := k.cardRef(ctx)
	if err != nil {
		return nil, propErr(name, err)
	}
	var v any
	switch name {
	case PropSmartCardReader:
		v = ref.Reader()
	case PropSmartCardGUID:
		v = ref.ID()
	case PropSmartCardKeyCertificate:
		if ck == nil {
			return nil, propErr(name, ErrNotFinalized)
		}
		v, err = ck.Certificate(ctx)
	case PropSmartCardRootCertStore:
		v, err = ref.RootCertificates(ctx)
	}
	if err != nil {
		return nil, propErr(name, err)
	}
	return v, nil
}

// SetProperty sets the property called name to value, which must be of
// the property's Go type (the package doc lists them; else a
// *PropertyError matching ErrPropertyType). Setting "SmartCardPin"
// verifies the PIN on the card at once and caches it under the PIN's
// cache policy; "SmartCardKeyCertificate" writes the key's certificate
// file; "Length", "Key Usage" and "SmartCardPinId" can be set only
// before Finalize; an "Export Policy" other than 0 is refused with
// ErrNotExportable.
func (k *Key) SetProperty(ctx context.Context, name string, value any) error {
	if err := k.p.core.CheckOpen(); err != nil {
		return propErr(name, err)
	}
	switch name {
	case PropLength, PropKeyUsage, PropSmartCardPinID:
		return k.setKeyProperty(name, value)
	case PropExportPolicy:
		v, ok := value.(ExportPolicy)
		if !ok {
			return propErr(name, fmt.Errorf("%w: %T, want ksp.ExportPolicy", ErrPropertyType, value))
		}
		if v != 0 {
			return propErr(name, ErrNotExportable)
		}
		return nil
	case PropSmartCardPin:
		var pin []byte
		switch v := value.(type) {
		case string:
			pin = []byte(v)
		case []byte:
			pin = append([]byte(nil), v...)
		default:
			return propErr(name, fmt.Errorf("%w: %T, want string or []byte", ErrPropertyType, value))
		}
		defer clear(pin)
		if err := k.VerifyPIN(ctx, pin); err != nil {
			return propErr(name, err)
		}
		return nil
	case PropSmartCardKeyCertificate:
		cert, ok := value.(*x509.Certificate)
		if !ok {
			return propErr(name, fmt.Errorf("%w: %T, want *x509.Certificate", ErrPropertyType, value))
		}
		if err := k.SetCertificate(ctx, cert); err != nil {
			return propErr(name, err)
		}
		return nil
	case PropSmartCardRootCertStore:
		certs, ok := value.([]*x509.Certificate)
		if !ok {
			return propErr(name, fmt.Errorf("%w: %T, want []*x509.Certificate", ErrPropertyType, value))
		}
		ref, _, err := k.cardRef(ctx)
		if err != nil {
			return propErr(name, err)
		}
		if err := ref.SetRootCertificates(ctx, certs); err != nil {
			return propErr(name, err)
		}
		return nil
	case PropAlgorithmGroup, PropAlgorithmName, PropUniqueName, PropSmartCardReader, PropSmartCardGUID,
		PropSmartCardPinInfo, PropSmartCardUserCertStore:
		return propErr(name, ErrReadOnly)
	}
	return propErr(name, ErrUnknownProperty)
}

// setKeyProperty sets a property of a key not finalized yet.
func (k *Key) setKeyProperty(name string, value any) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.k != nil {
		return propErr(name, fmt.Errorf("%w: the key is finalized", ErrReadOnly))
	}
	switch name {
	case PropLength:
		v, ok := value.(int)
		if !ok {
			return propErr(name, fmt.Errorf("%w: %T, want int", ErrPropertyType, value))
		}
		if cb := specBits(k.alg); cb != 0 {
			if v != cb {
				return propErr(name, fmt.Errorf("%w: a %s key has %d bits, not %d", ErrUnsupportedAlgorithm, k.alg, cb, v))
			}
			return nil
		}
		if v < 0 || v > 16384 {
			return propErr(name, fmt.Errorf("%w: %d bits", ErrUnsupportedAlgorithm, v))
		}
		k.bits = v
	case PropKeyUsage:
		v, ok := value.(KeyUsage)
		if !ok {
			return propErr(name, fmt.Errorf("%w: %T, want ksp.KeyUsage", ErrPropertyType, value))
		}
		if v&^AllowAllUsages != 0 {
			return propErr(name, fmt.Errorf("%w: usage %#x", minidriver.ErrInvalidParameter, uint32(v)))
		}
		k.usage = v
	case PropSmartCardPinID:
		v, ok := value.(minidriver.PinID)
		if !ok {
			return propErr(name, fmt.Errorf("%w: %T, want minidriver.PinID", ErrPropertyType, value))
		}
		if !v.Valid() || v == minidriver.RoleEveryone || v == minidriver.RoleAdmin {
			return propErr(name, fmt.Errorf("%w: PIN %d cannot protect a key", minidriver.ErrInvalidParameter, v))
		}
		k.pin = v
	}
	return nil
}
