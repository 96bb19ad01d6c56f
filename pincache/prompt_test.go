package pincache

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/cardmod/cardmod/minidriver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// safeBuffer is a bytes.Buffer safe for concurrent writes.
type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestQuestion(t *testing.T) {
	base := userRequest(normal)
	cases := []struct {
		name string
		mod  func(r *Request)
		want string
	}{
		{"plain", func(*Request) {}, `Enter the PIN for "Test card": `},
		{"no name", func(r *Request) { r.CardName = "" }, `Enter the PIN: `},
		{"signature", func(r *Request) { r.Info.Purpose = minidriver.DigitalSignaturePIN }, `Enter the signature PIN for "Test card": `},
		{"encryption", func(r *Request) { r.Info.Purpose = minidriver.EncryptionPIN }, `Enter the encryption PIN for "Test card": `},
		{"non-repudiation", func(r *Request) { r.Info.Purpose = minidriver.NonRepudiationPIN }, `Enter the non-repudiation PIN for "Test card": `},
		{"admin", func(r *Request) { r.Info.Purpose = minidriver.AdministratorPIN }, `Enter the administrator PIN for "Test card": `},
		{"primary", func(r *Request) { r.Info.Purpose = minidriver.PrimaryCardPIN }, `Enter the card PIN for "Test card": `},
		{"PUK", func(r *Request) { r.Info.Purpose = minidriver.UnblockOnlyPIN }, `Enter the PIN unblock key (PUK) for "Test card": `},
		{"unknown purpose", func(r *Request) { r.Info.Purpose = 42 }, `Enter the PIN for "Test card": `},
		{"attempts", func(r *Request) { r.AttemptsLeft = 3 }, `Enter the PIN for "Test card" (3 attempts left): `},
		{"one attempt", func(r *Request) { r.AttemptsLeft = 1 }, `Enter the PIN for "Test card" (1 attempt left): `},
		{"retry", func(r *Request) { r.Retry = true; r.AttemptsLeft = 2 }, `Wrong PIN. Enter the PIN for "Test card" (2 attempts left): `},
		{"context", func(r *Request) { r.Context = "sign in to example.com" }, `Enter the PIN for "Test card" to sign in to example.com: `},
		{"control characters", func(r *Request) { r.CardName = "Evil\x1b[2J\ncard"; r.Context = "x\ty" }, `Enter the PIN for "Evil?[2J?card" to x?y: `},
		{"invalid UTF-8", func(r *Request) { r.CardName = "a\xffb" }, `Enter the PIN for "a?b": `},
		{"long name", func(r *Request) { r.CardName = strings.Repeat("n", 500) }, `Enter the PIN for "` + strings.Repeat("n", maxShown) + `...": `},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := base
			tc.mod(&r)
			assert.Equal(t, tc.want, r.Question())
		})
	}
}

func TestRequestRetrying(t *testing.T) {
	r := userRequest(normal)
	cases := []struct {
		name     string
		err      error
		attempts int
	}{
		{"wrong", &minidriver.PINError{PIN: 1, AttemptsLeft: 2}, 2},
		{"wrapped", errors.Join(errors.New("x"), &minidriver.PINError{PIN: 1, AttemptsLeft: 1}), 1},
		{"blocked", &minidriver.PINError{PIN: 1, Blocked: true, AttemptsLeft: -1}, 0},
		{"unknown", &minidriver.PINError{PIN: 1, AttemptsLeft: -1}, -1},
		{"other error", errors.New("x"), -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := r.Retrying(tc.err)
			assert.True(t, n.Retry)
			assert.Equal(t, tc.attempts, n.AttemptsLeft)
			assert.False(t, r.Retry, "original unchanged")
		})
	}
}

func TestCardIDString(t *testing.T) {
	assert.Equal(t, "a00102030405060708090a0b0c0d0e0f", cardA.String())
	assert.Equal(t, "a00102030405060708090a0b0c0d0e0f/0102", CardID{GUID: cardA.GUID, Serial: "\x01\x02"}.String())
}

func TestFixed(t *testing.T) {
	src := []byte(testPIN)
	f := NewFixed(src)
	clear(src)
	req := userRequest(normal)

	a, err := f.PIN(context.Background(), req)
	require.NoError(t, err)
	assert.Equal(t, testPIN, string(a.Bytes()), "NewFixed copies")
	a.Wipe()
	b, err := f.PIN(context.Background(), req)
	require.NoError(t, err)
	assert.Equal(t, testPIN, string(b.Bytes()), "each answer is a copy")

	_, err = f.PIN(context.Background(), req.Retrying(&minidriver.PINError{PIN: 1, AttemptsLeft: 2}))
	assert.ErrorIs(t, err, ErrCancelled, "never offered again after a failure")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = f.PIN(ctx, req)
	assert.ErrorIs(t, err, context.Canceled)

	f.Wipe()
	_, err = f.PIN(context.Background(), req)
	assert.ErrorIs(t, err, ErrCancelled)
	assert.Equal(t, testPIN, string(b.Bytes()), "copies handed out survive Wipe")
}

func TestFunc(t *testing.T) {
	var got Request
	p := Func(func(_ context.Context, r Request) (*Secret, error) {
		got = r
		return NewSecret([]byte("1")), nil
	})
	req := userRequest(normal)
	req.Context = "ctx"
	s, err := p.PIN(context.Background(), req)
	require.NoError(t, err)
	assert.Equal(t, "1", string(s.Bytes()))
	assert.Equal(t, req, got)
}

func TestTerminal(t *testing.T) {
	cases := []struct {
		name    string
		line    string
		err     error
		maxLen  int
		want    string // the PIN returned, if no error
		wantErr error  // matched with errors.Is; nil with wantAny means any error
		wantAny bool
	}{
		{"PIN", testPIN, nil, 0, testPIN, nil, false},
		{"PIN at EOF", testPIN, io.EOF, 0, "", nil, true},
		{"end of input", "", io.EOF, 0, "", ErrCancelled, false},
		{"empty line", "", nil, 0, "", ErrCancelled, false},
		{"too long", testPIN, nil, 4, "", nil, true},
		{"default bound", strings.Repeat("1", DefaultMaxPINLen+1), nil, 0, "", nil, true},
		{"at the bound", strings.Repeat("1", DefaultMaxPINLen), nil, 0, strings.Repeat("1", DefaultMaxPINLen), nil, false},
		{"read error", "", errors.New("tty gone"), 0, "", nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in, err := os.Open(os.DevNull)
			require.NoError(t, err)
			defer in.Close()
			var out safeBuffer
			var buf []byte
			var gotFD int
			term := &Terminal{In: in, Out: &out, MaxLen: tc.maxLen,
				ReadPassword: func(fd int) ([]byte, error) {
					gotFD = fd
					buf = []byte(tc.line)
					return buf, tc.err
				}}
			req := userRequest(normal)
			req.Info.Purpose = minidriver.DigitalSignaturePIN
			s, err := term.PIN(context.Background(), req)
			assert.Equal(t, int(in.Fd()), gotFD, "reads the given file without echo")
			assert.Equal(t, req.Question()+"\n", out.String(), "question, then the newline echo did not show")
			if tc.line != "" {
				assert.NotContains(t, out.String(), tc.line, "the PIN is never written")
			}
			switch {
			case tc.wantErr != nil || tc.wantAny:
				require.Error(t, err)
				if tc.wantErr != nil {
					assert.ErrorIs(t, err, tc.wantErr)
				}
				assert.Nil(t, s)
				assert.True(t, isZero(buf), "refused input wiped")
				if tc.line != "" {
					assert.NotContains(t, err.Error(), tc.line)
				}
			default:
				require.NoError(t, err)
				assert.Equal(t, tc.want, string(s.Bytes()))
			}
		})
	}
}

func TestTerminalContext(t *testing.T) {
	var out safeBuffer
	reads := 0
	var buf []byte
	ctx, cancel := context.WithCancel(context.Background())
	term := &Terminal{Out: &out, ReadPassword: func(int) ([]byte, error) {
		reads++
		cancel() // the context ends while the user types
		buf = []byte(testPIN)
		return buf, nil
	}}
	_, err := term.PIN(ctx, userRequest(normal))
	assert.ErrorIs(t, err, context.Canceled)
	assert.True(t, isZero(buf), "a PIN read after the context ended is wiped")

	_, err = term.PIN(ctx, userRequest(normal))
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 1, reads, "an ended context does not prompt")
}

func TestTerminalNeedsATerminal(t *testing.T) {
	in, err := os.Open(os.DevNull)
	require.NoError(t, err)
	defer in.Close()
	var out safeBuffer
	term := &Terminal{In: in, Out: &out}
	_, err = term.PIN(context.Background(), userRequest(normal))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not a terminal")
	assert.Empty(t, out.String(), "no question when no PIN can be read without echo")
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("closed") }

func TestTerminalWriteError(t *testing.T) {
	reads := 0
	term := &Terminal{Out: failingWriter{}, ReadPassword: func(int) ([]byte, error) {
		reads++
		return []byte(testPIN), nil
	}}
	_, err := term.PIN(context.Background(), userRequest(normal))
	assert.Error(t, err)
	assert.Zero(t, reads, "no read without a question")
}

func TestTerminalSerialisesPrompts(t *testing.T) {
	var out safeBuffer
	var active, maxActive int
	var mu sync.Mutex
	term := &Terminal{Out: &out, ReadPassword: func(int) ([]byte, error) {
		mu.Lock()
		active++
		maxActive = max(maxActive, active)
		mu.Unlock()
		mu.Lock()
		active--
		mu.Unlock()
		return []byte(testPIN), nil
	}}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			s, err := term.PIN(context.Background(), userRequest(normal))
			if assert.NoError(t, err) {
				s.Wipe()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 1, maxActive)
	assert.Equal(t, strings.Repeat(userRequest(normal).Question()+"\n", 8), out.String())
}
