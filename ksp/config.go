package ksp

import "github.com/cardmod/cardmod/keystore"

// Config is keystore.Config, whose doc lists the settings: the type
// basecsp.Config is too, so one value opens either provider.
type Config = keystore.Config
