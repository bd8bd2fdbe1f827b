package seal_test

import (
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/otelaudit/otelaudit/schema/seal"
)

// A row's leaf hash: the personal fields enter through a salted
// commitment, the rest through the canonical encoding.
func ExampleRow_Canonical() {
	row := seal.Row{
		Time:        time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC),
		EventID:     uuid.MustParse("0195f0e2-7c1a-7d3e-9a4b-2c6d8e0f1a2b"),
		Action:      "login",
		Outcome:     "success",
		WorkspaceID: "ws_1",
		Details:     []byte(`{"method":"password","attempts":1}`),
		Personal:    seal.Personal{UserID: "usr_1", ClientIP: "203.0.113.7"},
	}
	salt := []byte("0123456789abcdef")
	canonical := row.Canonical(row.Commit(salt))
	leaf := seal.LeafHash(canonical)
	fmt.Printf("%d bytes, leaf %x\n", len(canonical), leaf[:8])

	// jsonb prints the details back in another form: same leaf.
	row.Details = []byte(`{"attempts": 1.0, "method": "password"}`)
	again := seal.LeafHash(row.Canonical(row.Commit(salt)))
	fmt.Println(again == leaf)
	// Output:
	// 114 bytes, leaf 5cb640e310ae8563
	// true
}
