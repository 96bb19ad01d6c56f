package kdf_test

import (
	"crypto"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/subtle"
	"fmt"

	"github.com/cardmod/cardmod/minidriver/kdf"
)

// A CardDeriveKey request names its KDF and passes a BCryptBuffer list;
// Parse turns it into a minidriver.KDF that both sides of an ECDH
// agreement can apply to the shared secret.
func ExampleParse() {
	alice, _ := ecdh.P256().GenerateKey(rand.Reader)
	bob, _ := ecdh.P256().GenerateKey(rand.Reader)

	hashName, _ := kdf.HashParam(crypto.SHA256)
	k, err := kdf.Parse(kdf.NameHash, []kdf.Param{
		hashName,
		{Type: kdf.ParamSecretPrepend, Value: []byte("cardmod example")},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	za, _ := alice.ECDH(bob.PublicKey())
	zb, _ := bob.ECDH(alice.PublicKey())
	ka, _ := k.Derive(za)
	kb, _ := k.Derive(zb)
	fmt.Println(len(ka), subtle.ConstantTimeCompare(ka, kb) == 1)
	// Output: 32 true
}
