package deploy

import "testing"

// TestRandomDomainHeld: domains handed out are distinct and held (a
// second open of the same lock cannot take it), within 61..100.
func TestRandomDomainHeld(t *testing.T) {
	seen := map[int]bool{}
	for i := 0; i < 5; i++ {
		d := RandomDomain()
		if d < firstDomain || d >= firstDomain+domainCount {
			t.Fatalf("RandomDomain() = %d, want %d..%d", d, firstDomain, firstDomain+domainCount-1)
		}
		if seen[d] {
			t.Fatalf("RandomDomain() handed out domain %d twice", d)
		}
		seen[d] = true
		if f := lockDomain(d); f != nil {
			f.Close()
			t.Fatalf("domain %d was handed out but its lock is free", d)
		}
	}
}
