package cspcore_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardsim"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/csptest"
	"github.com/cardmod/cardmod/ksp"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// recordCard keeps the command APDUs a simulated card receives while
// armed, for a raw replay of the same exchanges.
type recordCard struct {
	cardsim.Card
	mu    sync.Mutex
	armed bool
	apdus [][]byte
}

func (c *recordCard) Transmit(apdu []byte) []byte {
	c.mu.Lock()
	if c.armed {
		c.apdus = append(c.apdus, append([]byte(nil), apdu...))
	}
	c.mu.Unlock()
	return c.Card.Transmit(apdu)
}

// BenchmarkWarmSignature: a warm ECDSA P-256 signature (9A, PIN once) on
// the in-process simulated YubiKey 5.7 provisioned by another
// application, through ksp, shared and exclusive. It reports the APDUs and
// bytes per signature and the host's allocations beyond a raw replay of
// the same APDUs through scrm (host-allocs/op: what the engine, the
// providers and the plug-in add to the card's exchanges).
func BenchmarkWarmSignature(b *testing.B) {
	for _, exclusive := range []bool{false, true} {
		name := "shared"
		if exclusive {
			name = "exclusive"
		}
		b.Run(name, func(b *testing.B) { benchWarmSignature(b, exclusive) })
	}
}

// benchWarmSignature is one mode of BenchmarkWarmSignature.
func benchWarmSignature(b *testing.B, exclusive bool) {
	sim, err := simpiv.New(simpiv.Config{ManagementKeyAlgorithm: simpiv.AlgTDES})
	require.NoError(b, err)
	rec := &recordCard{Card: sim}
	raw := rawPIV{t: b, card: sim}
	raw.generate(0x9A, simpiv.AlgECCP256)
	sim.Reset()
	backend := virtual.NewBackend()
	backend.AddReader(budgetReader).Insert(rec)
	pr, err := ksp.Open(ksp.Config{Backend: backend, Prompt: csptest.NewPrompt(simpiv.DefaultPIN), Exclusive: exclusive})
	require.NoError(b, err)
	closed := false
	defer func() {
		if !closed {
			assert.NoError(b, pr.Close())
		}
	}()
	ctx := context.Background()
	keys, err := pr.Keys(ctx)
	require.NoError(b, err)
	var k *ksp.Key
	for _, e := range keys {
		if e.KeySpec.IsECDSA() && k == nil {
			k, err = pr.OpenKeySpec(ctx, e.FullName(), e.KeySpec)
			require.NoError(b, err)
		}
	}
	require.NotNil(b, k)
	d := sha256.Sum256([]byte("bench"))
	sign := func() {
		if _, err := k.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
			b.Fatal(err)
		}
	}
	sign()
	sign()
	rec.mu.Lock()
	rec.armed = true
	rec.mu.Unlock()
	before := k.Stats()
	sign()
	st := k.Stats().Sub(before)
	rec.mu.Lock()
	rec.armed = false
	script := rec.apdus
	rec.mu.Unlock()

	// The raw replay: the same APDUs in one transaction of a
	// connection of its own (shared mode only: exclusive mode
	// holds the card; its replay runs on the provider's own
	// connection's backend after the benchmark).
	replay := func(conn *scrm.Card) {
		tx, err := conn.Begin(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for _, apdu := range script {
			if _, err := tx.Transmit(ctx, apdu); err != nil {
				b.Fatal(err)
			}
		}
		_ = tx.End(scrm.LeaveCard)
	}

	signAllocs := testing.AllocsPerRun(20, sign)
	b.ResetTimer()
	for range b.N {
		sign()
	}
	b.StopTimer()
	var replayAllocs float64
	if !exclusive {
		conn, err := scrm.NewContext(backend).Connect(ctx, budgetReader, nil)
		require.NoError(b, err)
		replayAllocs = testing.AllocsPerRun(20, func() { replay(conn) })
		_ = conn.Close(scrm.LeaveCard)
	} else {
		require.NoError(b, pr.Close())
		closed = true
		conn, err := scrm.NewContext(backend).Connect(ctx, budgetReader, &scrm.ConnectOptions{Share: scrm.ShareExclusive})
		require.NoError(b, err)
		// The replayed APDU assumes PIV selected and the PIN
		// verified, as the provider left it before Close reset it.
		raw.must(0xA4, 0x04, 0x00, simpiv.AID)
		raw.must(0x20, 0x00, 0x80, append([]byte(simpiv.DefaultPIN), 0xFF, 0xFF))
		replayAllocs = testing.AllocsPerRun(20, func() { replay(conn) })
		_ = conn.Close(scrm.LeaveCard)
	}
	b.ReportMetric(float64(st.APDUs), "APDUs/op")
	b.ReportMetric(float64(st.BytesSent), "sent-B/op")
	b.ReportMetric(float64(st.BytesReceived), "received-B/op")
	b.ReportMetric(signAllocs, "allocs/sign")
	b.ReportMetric(replayAllocs, "replay-allocs/op")
	b.ReportMetric(signAllocs-replayAllocs, "host-allocs/op")
}

// BenchmarkParallelCards signs on N = 1, 2, 4, 8 simulated cards at once,
// one goroutine per card, through one ksp provider, in exclusive mode (the
// warm operation is one GENERAL AUTHENTICATE) and in shared mode (four
// APDUs, the PIN from the PIN cache), and reports signatures per second. Run with -mutexprofile to see contention:
//
//	go test -run '^$' -bench ParallelCards -mutexprofile mutex.out ./internal/cspcore
//	go tool pprof -top mutex.out
func BenchmarkParallelCards(b *testing.B) {
	for _, excl := range []bool{true, false} {
		for _, n := range []int{1, 2, 4, 8} {
			b.Run(fmt.Sprintf("%s/N=%d", map[bool]string{true: "exclusive", false: "shared"}[excl], n), func(b *testing.B) {
				benchmarkParallelCards(b, n, excl)
			})
		}
	}
}

func benchmarkParallelCards(b *testing.B, n int, excl bool) {
	backend := virtual.NewBackend()
	for i := range n {
		sim, err := simpiv.New(simpiv.Config{ManagementKeyAlgorithm: simpiv.AlgTDES, Serial: 70000000 + uint32(i)})
		require.NoError(b, err)
		raw := rawPIV{t: b, card: sim}
		raw.generate(0x9A, simpiv.AlgECCP256)
		sim.Reset()
		backend.AddReader(fmt.Sprintf("Parallel Reader %d", i)).Insert(sim)
	}
	pr, err := ksp.Open(ksp.Config{Backend: backend, Prompt: csptest.NewPrompt(simpiv.DefaultPIN), Exclusive: excl})
	require.NoError(b, err)
	defer func() { assert.NoError(b, pr.Close()) }()
	ctx := context.Background()
	keys, err := pr.Keys(ctx)
	require.NoError(b, err)
	var signers []*ksp.Key
	for _, e := range keys {
		if e.KeySpec.IsECDSA() {
			k, err := pr.OpenKeySpec(ctx, e.FullName(), e.KeySpec)
			require.NoError(b, err)
			signers = append(signers, k)
		}
	}
	require.Len(b, signers, n)
	d := sha256.Sum256([]byte("parallel"))
	for _, k := range signers {
		_, err := k.Sign(rand.Reader, d[:], crypto.SHA256)
		require.NoError(b, err)
	}
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for _, k := range signers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range b.N {
				if _, err := k.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(n*b.N)/time.Since(start).Seconds(), "signatures/s")
}

// stallCard holds GENERAL AUTHENTICATE back while stall is armed, until
// release is closed: an operation stuck inside the card.
type stallCard struct {
	cardsim.Card
	mu      sync.Mutex
	stall   bool
	entered chan struct{}
	release chan struct{}
}

func (c *stallCard) Transmit(apdu []byte) []byte {
	c.mu.Lock()
	stall := c.stall && len(apdu) > 1 && apdu[1] == 0x87
	if stall {
		c.stall = false
	}
	c.mu.Unlock()
	if stall {
		close(c.entered)
		<-c.release
	}
	return c.Card.Transmit(apdu)
}

// TestCardsDoNotWaitForEachOther: while a signature is stuck inside one
// card (its transaction open, its lock held), signatures on another card
// of the same provider go on, in shared and in exclusive mode: nothing
// the engine holds during an operation is shared by all cards.
// BenchmarkParallelCards measures the throughput.
func TestCardsDoNotWaitForEachOther(t *testing.T) {
	for _, exclusive := range []bool{false, true} {
		t.Run(map[bool]string{false: "shared", true: "exclusive"}[exclusive], func(t *testing.T) {
			backend := virtual.NewBackend()
			var stuck *stallCard
			for i := range 2 {
				sim, err := simpiv.New(simpiv.Config{ManagementKeyAlgorithm: simpiv.AlgTDES, Serial: 71000000 + uint32(i)})
				require.NoError(t, err)
				raw := rawPIV{t: t, card: sim}
				raw.generate(0x9A, simpiv.AlgECCP256)
				sim.Reset()
				sc := &stallCard{Card: sim, entered: make(chan struct{}), release: make(chan struct{})}
				if i == 0 {
					stuck = sc
				}
				backend.AddReader(fmt.Sprintf("Stall Reader %d", i)).Insert(sc)
			}
			pr, err := ksp.Open(ksp.Config{Backend: backend, Prompt: csptest.NewPrompt(simpiv.DefaultPIN), Exclusive: exclusive})
			require.NoError(t, err)
			defer func() { assert.NoError(t, pr.Close()) }()
			ctx := context.Background()
			keys, err := pr.Keys(ctx)
			require.NoError(t, err)
			var a, b *ksp.Key
			for _, e := range keys {
				if e.KeySpec.IsECDSA() {
					k, err := pr.OpenKeySpec(ctx, e.FullName(), e.KeySpec)
					require.NoError(t, err)
					if e.Reader == "Stall Reader 0" {
						a = k
					} else {
						b = k
					}
				}
			}
			require.NotNil(t, a)
			require.NotNil(t, b)
			d := sha256.Sum256([]byte("stall"))
			for _, k := range []*ksp.Key{a, b} {
				_, err := k.Sign(rand.Reader, d[:], crypto.SHA256)
				require.NoError(t, err)
			}
			stuck.mu.Lock()
			stuck.stall = true
			stuck.mu.Unlock()
			done := make(chan error, 1)
			go func() { _, err := a.Sign(rand.Reader, d[:], crypto.SHA256); done <- err }()
			<-stuck.entered
			other := make(chan error, 1)
			go func() {
				for range 3 {
					if _, err := b.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
						other <- err
						return
					}
				}
				other <- nil
			}()
			select {
			case err := <-other:
				assert.NoError(t, err)
			case <-time.After(10 * time.Second):
				t.Error("the other card's signatures waited for the stuck one")
			}
			close(stuck.release)
			assert.NoError(t, <-done)
		})
	}
}

// pivGoWarmSent and pivGoWarmReceived are the bytes piv-go sends and
// receives for a warm ECDSA P-256 signature (docs/benchmarks.md, "Why
// each cardmod APDU is sent", the harness table "PIV card provisioned by
// piv-go": the piv-go column of the "warm ECDSA P-256 sign (9A)" row, 2
// APDUs, 48/79 B); issue 12 asks cardmod's to stay within 1.5 times those
// (72/118).
const (
	pivGoWarmSent     = 48
	pivGoWarmReceived = 79
)

// TestWarmSignatureHostAllocations: the host's allocations per warm
// signature beyond a raw replay of the same APDUs stay within issue 12's
// 40, and its bytes sent and received within issue 12's 1.5 × piv-go's, in
// shared and in exclusive mode (allocation counts are deterministic for
// one code path; the same under -race, which changes no count here; the
// bytes received vary by a byte or two with the length of the DER
// signature).
func TestWarmSignatureHostAllocations(t *testing.T) {
	for _, exclusive := range []bool{false, true} {
		r := testing.Benchmark(func(b *testing.B) { benchWarmSignature(b, exclusive) })
		host, ok := r.Extra["host-allocs/op"]
		require.True(t, ok, "exclusive=%v: the benchmark reports host-allocs/op", exclusive)
		sent, ok := r.Extra["sent-B/op"]
		require.True(t, ok, "exclusive=%v: the benchmark reports sent-B/op", exclusive)
		received, ok := r.Extra["received-B/op"]
		require.True(t, ok, "exclusive=%v: the benchmark reports received-B/op", exclusive)
		t.Logf("exclusive=%v: %.0f host allocations, %.0f APDUs, %.0f/%.0f bytes per signature", exclusive,
			host, r.Extra["APDUs/op"], sent, received)
		assert.LessOrEqual(t, host, 40.0, "exclusive=%v: host allocations per warm signature", exclusive)
		assert.LessOrEqual(t, sent, 1.5*pivGoWarmSent, "exclusive=%v: bytes sent per warm signature", exclusive)
		assert.LessOrEqual(t, received, 1.5*pivGoWarmReceived, "exclusive=%v: bytes received per warm signature", exclusive)
	}
}
