package seal

// SealVersion1 makes s write version 1 digests, as sealers did before
// version 2, so that tests can check that those still verify.
func SealVersion1(s *Sealer) { s.version = encodingV1 }
