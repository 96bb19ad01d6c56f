package scrm

// limitsFromATR derives the command limits a card announces in the card
// capabilities of its historical bytes (ISO/IEC 7816-4 §8.1.1.2.7): extended
// Lc and Le fields. A card that announces nothing gets short APDUs, which
// every card takes; a plug-in that knows its card better calls SetLimits.
func limitsFromATR(atr []byte) Limits {
	a, err := ParseATR(atr)
	if err != nil {
		return Limits{}
	}
	caps, ok := a.Capabilities()
	if !ok {
		return Limits{}
	}
	return Limits{Extended: caps.ExtendedLength}
}
