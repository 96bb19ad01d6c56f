package scrm

// limitsFromATR derives the command limits a card announces in its ATR.
func limitsFromATR(atr []byte) Limits {
	return Limits{}
}
